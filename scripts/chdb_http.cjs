#!/usr/bin/env node
// A test shim that serves the part of ClickHouse's HTTP interface that
// internal/store/clickhouse uses, on top of one chDB session (ClickHouse's
// engine as a library, from the npm package "chdb"). chDB has no HTTP
// server of its own. The shim lets the store's tests run against a current
// ClickHouse engine where no clickhouse-server package is available. It is
// not a server to deploy.
//
//   NODE_PATH=DIR/node_modules node scripts/chdb_http.cjs PORT DATA_DIR
//
// It listens on 127.0.0.1:PORT only and keeps its databases in DATA_DIR.
// SIGTERM or SIGINT stops it.
//
// What it serves:
//   - GET /ping and GET / respond "Ok.\n".
//   - POST / runs the statement in the "query" URL parameter, followed by a
//     line break and the request body, or the body alone when there is no
//     "query" parameter. The SQL goes to the engine unchanged, and a result
//     without a FORMAT clause is TabSeparated, as in ClickHouse.
//   - Every other URL parameter is a setting for that one statement, except
//     wait_end_of_query (the shim always sends the whole result at once) and
//     external data. The shim runs "SET name = 'value'" before the statement
//     and "SET name = DEFAULT" after it.
//   - A multipart/form-data body carries external data: each file field
//     NAME, with NAME_structure and NAME_format (TabSeparated by default) in
//     the URL, becomes a temporary Memory table that is dropped after the
//     statement.
//   - An engine error becomes status 400, 404 or 500, as ClickHouse maps
//     the error's name, with the exception text ("Code: 60.
//     DB::Exception: ... (UNKNOWN_TABLE)") as the body and the code in the
//     X-ClickHouse-Exception-Code header.
//
// NOTE: Unlike clickhouse-server, the shim runs one request at a time and
// accepts several statements separated by semicolons. It ignores
// credentials and decodes request bodies as UTF-8, so invalid UTF-8 in SQL
// or data changes. SET statements and temporary tables that a client sends
// itself last for later requests.
'use strict';

const http = require('node:http');

// Error names for which ClickHouse's HTTP handler returns 400 Bad Request
// or 404 Not Found (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp in
// ClickHouse's repository). The shim returns 500 Internal Server Error for
// any other error, where ClickHouse has a few more statuses (401, 403, 408,
// 413, 501, 503) for errors that the store does not cause.
const badRequestErrors = new Set([
  'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING', 'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN',
  'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST',
  'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR', 'INCORRECT_DATA', 'TYPE_MISMATCH',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
]);
const notFoundErrors = new Set([
  'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE',
  'UNKNOWN_DATABASE', 'UNKNOWN_SETTING', 'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION',
  'UNKNOWN_FORMAT', 'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE',
]);

// identifierPattern matches the external table names and setting names the
// shim puts into its own SET, CREATE and DROP statements.
const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

// EngineError is an exception that the engine raised while running SQL.
class EngineError extends Error {
  constructor(message) {
    super(message.replace(/^Query failed: /, ''));
    const match = /\(([A-Z0-9_]+)\)\s*$/.exec(this.message);
    this.errorName = match ? match[1] : '';
    const code = /^Code: (\d+)\./.exec(this.message);
    this.code = code ? code[1] : '';
  }

  status() {
    if (badRequestErrors.has(this.errorName)) return 400;
    if (notFoundErrors.has(this.errorName)) return 404;
    return 500;
  }
}

// RequestError is a request that the shim cannot serve, with the HTTP
// status to return and a message that names what the shim supports.
class RequestError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function main() {
  const [port, dataDir] = process.argv.slice(2);
  if (!/^\d+$/.test(port || '') || !dataDir) {
    console.error('usage: NODE_PATH=DIR/node_modules node scripts/chdb_http.cjs PORT DATA_DIR');
    process.exit(2);
  }

  let chdb;
  try {
    chdb = require('chdb');
  } catch (err) {
    console.error(`load chdb: ${err.message} (install it with npm install chdb and set NODE_PATH to its node_modules)`);
    process.exit(1);
  }
  const session = new chdb.Session(dataDir);
  const engine = session.query('SELECT version()', 'TabSeparated').trim();

  const server = http.createServer((req, res) => {
    handle(session, req, res).catch((err) => {
      console.error(`chdb_http: ${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) reply(res, 500, `${err.message}\n`);
    });
  });
  server.on('error', (err) => {
    console.error(`chdb_http: listen on 127.0.0.1:${port} failed: ${err.message} (stop the other server or choose another PORT)`);
    session.close();
    process.exit(1);
  });
  server.listen(Number(port), '127.0.0.1', () => {
    console.log(`chdb_http: ClickHouse ${engine} (chdb ${chdb.version().chdb}) listening on http://127.0.0.1:${port}, data in ${dataDir}`);
  });

  const stop = () => {
    server.close();
    session.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// handle serves one request.
async function handle(session, req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' || req.method === 'HEAD') {
    if ((url.pathname === '/ping' || url.pathname === '/') && !url.searchParams.has('query')) {
      reply(res, 200, 'Ok.\n');
      return;
    }
    reply(res, 501, 'chdb_http serves GET only for /ping and /: send statements with POST /\n');
    return;
  }
  if (req.method !== 'POST' || url.pathname !== '/') {
    reply(res, 404, `chdb_http serves POST / only, not ${req.method} ${url.pathname}\n`);
    return;
  }

  const body = await readBody(req);
  try {
    const output = await serialize(() => runRequest(session, url.searchParams, req.headers['content-type'] || '', body));
    reply(res, 200, output);
  } catch (err) {
    if (err instanceof EngineError) {
      console.error(`chdb_http: status ${err.status()}: ${err.message.slice(0, 300)}`);
      reply(res, err.status(), `${err.message}\n`, { 'X-ClickHouse-Exception-Code': err.code });
    } else if (err instanceof RequestError) {
      console.error(`chdb_http: status ${err.status}: ${err.message}`);
      reply(res, err.status, `${err.message}\n`);
    } else {
      throw err;
    }
  }
}

// queue is the promise of the request that runs last. Requests run one at a
// time, because the settings and temporary tables of one request live in the
// session that every request shares.
let queue = Promise.resolve();

// serialize runs task after every task passed to serialize before it.
function serialize(task) {
  const result = queue.then(task);
  queue = result.catch(() => {});
  return result;
}

// runRequest runs the statement of one POST request and returns its output.
async function runRequest(session, params, contentType, body) {
  const settings = [];
  const externalNames = [];
  for (const [name, value] of params) {
    if (name === 'query' || name === 'wait_end_of_query') continue;
    if (name.endsWith('_structure')) {
      externalNames.push(name.slice(0, -'_structure'.length));
      continue;
    }
    if (name.endsWith('_format') && params.has(name.slice(0, -'_format'.length) + '_structure')) continue;
    if (!identifierPattern.test(name)) {
      throw new RequestError(400, `invalid URL parameter ${JSON.stringify(name)}: settings are identifiers`);
    }
    settings.push([name, value]);
  }

  let sql;
  let tables = [];
  if (contentType.startsWith('multipart/form-data')) {
    sql = params.get('query') || '';
    tables = await readExternalTables(params, externalNames, contentType, body);
  } else {
    if (externalNames.length > 0) {
      throw new RequestError(400, 'external data needs a multipart/form-data body');
    }
    // ClickHouse's HTTP handler reads the query parameter, a line break and
    // the body as one text, which is how INSERT data follows its statement.
    const text = body.toString('utf8');
    sql = params.has('query') ? params.get('query') + '\n' + text : text;
  }
  if (sql.trim() === '') {
    throw new RequestError(400, 'empty query: send it in the query URL parameter or the body');
  }

  const cleanup = [];
  try {
    for (const [name, value] of settings) {
      await run(session, `SET ${name} = ${quote(value)}`);
      cleanup.push(`SET ${name} = DEFAULT`);
    }
    for (const table of tables) {
      await run(session, `CREATE TEMPORARY TABLE ${table.name} (${table.structure}) ENGINE = Memory`);
      cleanup.push(`DROP TEMPORARY TABLE IF EXISTS ${table.name}`);
      await run(session, `INSERT INTO ${table.name} FORMAT ${table.format}\n${table.data}`);
    }
    return await run(session, sql);
  } finally {
    for (const statement of cleanup.reverse()) {
      try {
        await run(session, statement);
      } catch (err) {
        console.error(`chdb_http: cleanup statement ${statement} failed: ${err.message}`);
      }
    }
  }
}

// readExternalTables returns the external tables of a multipart body: one
// file field per name in names, with its structure and format from params.
async function readExternalTables(params, names, contentType, body) {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const tables = [];
  for (const name of names) {
    if (!identifierPattern.test(name)) {
      throw new RequestError(400, `invalid external table name ${JSON.stringify(name)}`);
    }
    const file = form.get(name);
    if (file === null) {
      throw new RequestError(400, `missing form field ${JSON.stringify(name)} for external table ${name}`);
    }
    const format = params.get(name + '_format') || 'TabSeparated';
    if (!identifierPattern.test(format)) {
      throw new RequestError(400, `invalid format ${JSON.stringify(format)} for external table ${name}`);
    }
    const data = typeof file === 'string' ? file : await file.text();
    tables.push({ name, structure: params.get(name + '_structure'), format, data });
  }
  return tables;
}

// run runs one statement and returns its output as bytes, or throws
// EngineError.
async function run(session, sql) {
  try {
    const result = await session.queryAsync(sql, { format: 'TabSeparated' });
    return Buffer.from(result.bytes());
  } catch (err) {
    if (typeof err.message === 'string' && err.message.includes('DB::Exception')) {
      throw new EngineError(err.message);
    }
    throw err;
  }
}

// quote returns value as a ClickHouse string literal, which SET converts to
// the setting's type as ClickHouse does with URL parameters.
function quote(value) {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=UTF-8', ...headers });
  res.end(text);
}

main();
