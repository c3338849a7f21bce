// Script of the candor dashboard page. It fetches the query API with the
// session cookie and draws each panel's chart and the table behind it. The
// server puts the filter parameters of the API requests in the data-query
// attribute of <main>, and each panel adds the settings of its form
// controls, so the URL alone defines the view. Changing a control updates
// the URL and reloads the panels that depend on it.
//
// The body's data-state attribute is "loading", "ready" or "error", and so
// is each panel's. A panel is "undeclared" instead when the project's
// catalog does not declare the events it counts, and then shows why. The
// server puts that explanation in the panel's data-undeclared attribute,
// so the page does not request what the API would reject with 409. A row
// built from fewer than k installs arrives with "suppressed": true and no
// counts, and is shown as "< k".
(function () {
  'use strict';

  const DAY_MS = 24 * 60 * 60 * 1000;

  // MAX_SERIES is how many series a chart draws on their own. The others
  // are summed into one "Other" series where counts add up, because more
  // colors than this are hard to tell apart.
  const MAX_SERIES = 9;

  // MAX_FILLED_PERIODS bounds the range whose periods without events are
  // drawn as zeros. Longer ranges show only the periods that have data.
  const MAX_FILLED_PERIODS = 1100;

  const PALETTE = [
    '#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6',
    '#06b6d4', '#ec4899', '#84cc16', '#f97316',
  ];
  const OTHER_COLOR = '#94a3b8';
  // NO_RESPONSE_RETRY_SECONDS is the pause before a panel whose request
  // got no response at all loads again.
  const NO_RESPONSE_RETRY_SECONDS = 5;
  // OTHER_VALUE is the breakdown value under which the API merges the
  // values beyond a query's limit.
  const OTHER_VALUE = '(other)';
  const WINDOW_LABELS = { 1: 'Daily', 7: 'Weekly (7 days)', 30: 'Monthly (30 days)' };

  const main = document.getElementById('content');
  const status = document.getElementById('status');
  if (!main || !status || !main.dataset.query) {
    // The server rejected the URL's parameters and shows why instead.
    return;
  }

  const K = Number(main.dataset.k) || 1;
  const SUPPRESSED_TEXT = '< ' + K;
  const numberFormat = new Intl.NumberFormat();
  const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
  const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
  const longDayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
  const charts = {};
  const drawn = {};
  let catalog = null;

  // ---- Fetching ----

  function apiURL(path, params) {
    const query = new URLSearchParams(main.dataset.query);
    (params || []).forEach((pair) => {
      if (pair[1] !== '' && pair[1] !== undefined && pair[1] !== null) {
        query.append(pair[0], pair[1]);
      }
    });
    return '/api/v1/' + path + '?' + query.toString();
  }

  // fetchJSON fetches url as JSON. An abort of signal, which is optional,
  // rejects it with an AbortError.
  // The error of a failed request may set retryAfter, the seconds after
  // which the page loads the panel again. It is the Retry-After of a 503,
  // which the API sends while the event store is unavailable, or
  // NO_RESPONSE_RETRY_SECONDS when the collector did not respond at all.
  async function fetchJSON(url, signal) {
    let response;
    try {
      response = await fetch(url, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        signal: signal,
      });
    } catch (err) {
      if (signal && signal.aborted) {
        throw err;
      }
      const failed = new Error('the collector did not respond, so check that candor serve is running');
      failed.retryAfter = NO_RESPONSE_RETRY_SECONDS;
      throw failed;
    }
    if (response.status === 401) {
      throw new Error('Your session has ended. Reload the page to log in again.');
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) {
      const err = new Error(body && body.error ? body.error : 'status ' + response.status);
      err.undeclared = response.status === 409 && body ? body.undeclared : undefined;
      const retryAfter = Number(response.headers.get('Retry-After'));
      if (response.status === 503 && Number.isInteger(retryAfter) && retryAfter > 0) {
        err.retryAfter = retryAfter;
      }
      throw err;
    }
    return body;
  }

  // setDownloads points a panel's CSV and Parquet links at url.
  function setDownloads(name, url, label) {
    const holder = document.querySelector('[data-downloads="' + name + '"]');
    if (!holder) {
      return;
    }
    holder.replaceChildren();
    ['csv', 'parquet'].forEach((format, i) => {
      const link = document.createElement('a');
      link.href = url + '&format=' + format;
      link.textContent = format === 'csv' ? 'CSV' : 'Parquet';
      link.setAttribute('aria-label', 'Download ' + label + ' as ' + link.textContent);
      if (i > 0) {
        holder.appendChild(document.createTextNode(' · '));
      }
      holder.appendChild(link);
    });
  }

  // ---- Formatting ----

  function parseDay(day) {
    return Date.parse(day + 'T00:00:00Z');
  }

  function isoDay(time) {
    return new Date(time).toISOString().slice(0, 10);
  }

  function formatDay(day, format) {
    return format.format(new Date(parseDay(day)));
  }

  function formatCount(row, key) {
    return row.suppressed ? SUPPRESSED_TEXT : numberFormat.format(row[key]);
  }

  function formatShare(row, key) {
    return row.suppressed ? SUPPRESSED_TEXT : percentFormat.format(row[key]);
  }

  function countSuppressed(rows) {
    return rows.filter((row) => row.suppressed).length;
  }

  // setSuppressedNote writes how many of a panel's cells, points or bars
  // are hidden. what is the singular noun and things the plural, such as
  // 'cell' and 'cells'.
  function setSuppressedNote(section, count, what, things) {
    const note = section.querySelector('.suppressed-note');
    if (!note) {
      return;
    }
    if (count === 0) {
      note.textContent = '';
    } else if (count === 1) {
      note.textContent = '1 ' + what + ' is hidden because fewer than ' + K + ' installs, possibly none, are behind it.';
    } else {
      note.textContent = count + ' ' + things + ' are hidden because fewer than ' + K + ' installs, possibly none, are behind each.';
    }
  }

  // periodLabels returns the start of every period of the page's range, or
  // the periods that have rows when the range is too long to fill.
  function periodLabels(interval, rows, key) {
    const from = parseDay(main.dataset.from);
    const to = parseDay(main.dataset.to);
    if (!isNaN(from) && !isNaN(to) && to >= from && (to - from) / DAY_MS <= MAX_FILLED_PERIODS) {
      const labels = [];
      let t = periodStart(interval, from);
      while (t <= to) {
        labels.push(isoDay(t));
        t = nextPeriod(interval, t);
      }
      return labels;
    }
    const present = new Set(rows.map((row) => row[key]));
    return Array.from(present).sort();
  }

  function periodStart(interval, time) {
    const date = new Date(time);
    if (interval === 'week') {
      const weekday = (date.getUTCDay() + 6) % 7; // Monday is 0
      return time - weekday * DAY_MS;
    }
    if (interval === 'month') {
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    }
    return time;
  }

  function nextPeriod(interval, time) {
    if (interval === 'week') {
      return time + 7 * DAY_MS;
    }
    if (interval === 'month') {
      const date = new Date(time);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    }
    return time + DAY_MS;
  }

  function periodFormat(interval) {
    return interval === 'month' ? monthFormat : dayFormat;
  }

  // ---- Charts ----

  function themeColors() {
    const style = getComputedStyle(document.documentElement);
    const read = (name) => style.getPropertyValue(name).trim();
    return {
      text: read('--chart-text'),
      grid: read('--chart-grid'),
      line: read('--chart-line'),
      fill: read('--chart-fill'),
    };
  }

  function baseOptions(colors) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { display: false, labels: { color: colors.text, boxWidth: 12, boxHeight: 12 } },
      },
      scales: {
        x: { grid: { color: colors.grid }, ticks: { color: colors.text }, border: { color: colors.grid } },
        y: { grid: { color: colors.grid }, ticks: { color: colors.text, precision: 0 }, border: { color: colors.grid }, beginAtZero: true },
      },
    };
  }

  function periodAxis(options, labels, interval) {
    const format = periodFormat(interval);
    options.scales.x.ticks.autoSkip = true;
    options.scales.x.ticks.maxRotation = 0;
    options.scales.x.ticks.callback = (value) => formatDay(labels[value], format);
    options.plugins.tooltip = {
      callbacks: {
        title: (items) => formatDay(labels[items[0].dataIndex], interval === 'month' ? monthFormat : longDayFormat),
        label: (item) => item.dataset.label + ': ' + (item.raw === null ? SUPPRESSED_TEXT : numberFormat.format(item.raw)),
      },
    };
  }

  function showLegend(options) {
    options.plugins.legend.display = true;
    options.plugins.legend.position = 'bottom';
  }

  function replaceChart(id, config) {
    if (charts[id]) {
      charts[id].destroy();
    }
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function barDataset(label, data, color) {
    return { label: label, data: data, backgroundColor: color, borderWidth: 0 };
  }

  function lineDataset(label, data, color, fill) {
    return {
      label: label,
      data: data,
      borderColor: color,
      backgroundColor: fill || color,
      fill: Boolean(fill),
      spanGaps: false,
      cubicInterpolationMode: 'monotone',
      borderWidth: 2,
      pointRadius: data.length > 60 ? 0 : 2.5,
      pointHoverRadius: 4,
    };
  }

  // seriesData arranges rows into one array per series over labels:
  // counts for visible rows, null for suppressed ones and fill for periods
  // without a row. It returns the series ordered by their visible total.
  function seriesData(rows, labels, labelKey, seriesKey, valueKey, fill) {
    const index = new Map(labels.map((label, i) => [label, i]));
    const series = new Map();
    rows.forEach((row) => {
      const i = index.get(row[labelKey]);
      if (i === undefined) {
        return;
      }
      const name = seriesKey(row);
      if (!series.has(name)) {
        series.set(name, { name: name, data: new Array(labels.length).fill(fill), total: 0 });
      }
      const entry = series.get(name);
      entry.data[i] = row.suppressed ? null : row[valueKey];
      entry.total += row.suppressed ? 0 : row[valueKey];
    });
    return Array.from(series.values()).sort((a, b) => b.total - a.total || String(a.name).localeCompare(String(b.name)));
  }

  // ---- Tables ----

  function fillTable(id, header, rows) {
    const table = document.getElementById(id);
    const head = table.querySelector('thead');
    const body = table.querySelector('tbody');
    const headRow = document.createElement('tr');
    header.forEach((text, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = text;
      if (i > 0) {
        th.className = 'num';
      }
      headRow.appendChild(th);
    });
    head.replaceChildren(headRow);
    body.replaceChildren();
    rows.forEach((cells) => {
      const tr = document.createElement('tr');
      cells.forEach((cell, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) {
          td.scope = 'row';
        }
        td.textContent = typeof cell === 'number' ? numberFormat.format(cell) : cell;
        if (cell === SUPPRESSED_TEXT) {
          td.className = 'num suppressed';
        } else if (i > 0) {
          td.className = 'num';
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function fillOptions(id, keys) {
    const list = document.getElementById(id);
    list.replaceChildren();
    keys.forEach((key) => {
      const option = document.createElement('option');
      option.value = key;
      list.appendChild(option);
    });
  }

  // ---- Controls and the URL ----

  function control(id) {
    return document.getElementById(id);
  }

  // readQuoted reads the double-quoted string that starts at text[start],
  // in which a backslash makes the next character literal, as the API's
  // lists and funnel steps write values with commas, ] or >. It returns
  // the value and the index after the closing quote, or null when the
  // quote is not closed.
  function readQuoted(text, start) {
    let value = '';
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') {
        i++;
        value += i < text.length ? text[i] : '';
      } else if (text[i] === '"') {
        return { value: value, end: i + 1 };
      } else {
        value += text[i];
      }
    }
    return null;
  }

  // splitList returns the comma-separated items of a list field. An item
  // in double quotes may contain commas. An unclosed quote makes the rest
  // one item.
  function splitList(text) {
    const items = [];
    let rest = text;
    for (;;) {
      rest = rest.replace(/^[ \t]+/, '');
      const quoted = rest[0] === '"' ? readQuoted(rest, 0) : null;
      let end = rest.indexOf(',');
      if (quoted) {
        items.push(quoted.value);
        end = rest.indexOf(',', quoted.end);
      } else {
        if (end < 0 || rest[0] === '"') {
          end = rest.length;
        }
        const item = rest.slice(0, end).trim();
        if (item !== '') {
          items.push(item);
        }
      }
      if (end < 0 || end >= rest.length) {
        return items;
      }
      rest = rest.slice(end + 1);
    }
  }

  // quoteItem returns a list item as the API reads it: in double quotes,
  // with backslash escapes, when it contains a comma or a double quote or
  // starts or ends with a space.
  function quoteItem(item) {
    if (item !== '' && !/[,"]/.test(item) && item.trim() === item) {
      return item;
    }
    return '"' + item.replace(/[\\"]/g, (c) => '\\' + c) + '"';
  }

  // splitSteps returns the steps of the Steps field, separated by > outside
  // double-quoted values. A double quote opens a value only right after =,
  // spaces aside, as in the API's step syntax. It throws an input error
  // for a quote that is not closed, which would take the rest of the field.
  function splitSteps(text) {
    const steps = [];
    let current = '';
    let afterEquals = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"' && afterEquals) {
        const quoted = readQuoted(text, i);
        if (!quoted) {
          const err = new Error('The Steps field has a quoted value without its closing ": ' +
            'end the value with ", and write \\" for a quote inside it.');
          err.input = true;
          throw err;
        }
        const end = quoted.end;
        current += text.slice(i, end);
        i = end - 1;
        afterEquals = false;
      } else if (c === '>') {
        steps.push(current);
        current = '';
        afterEquals = false;
      } else {
        current += c;
        if (c !== ' ') {
          afterEquals = c === '=';
        }
      }
    }
    steps.push(current);
    return steps.map((step) => step.trim()).filter((step) => step !== '');
  }

  function listValue(id) {
    return splitList(control(id).value);
  }

  // updateURL writes the value of every control of the filter form into
  // the page's URL, so that a copied link shows the same view.
  function updateURL() {
    const params = new URLSearchParams(window.location.search);
    document.querySelectorAll('[form="filters"]').forEach((element) => {
      const value = element.value.trim();
      if (value === '') {
        params.delete(element.name);
      } else {
        params.set(element.name, value);
      }
    });
    window.history.replaceState(null, '', '?' + params.toString());
    // The project links keep only the filters, so they stay as served.
    document.querySelectorAll('.presets:not(#project-links) a').forEach((link) => {
      const url = new URL(link.href);
      const from = url.searchParams.get('from');
      const to = url.searchParams.get('to');
      const linked = new URLSearchParams(params);
      linked.set('from', from);
      linked.set('to', to);
      link.href = '/?' + linked.toString();
    });
  }

  function catalogEvent(name) {
    return catalog ? catalog.events.find((event) => event.name === name) : null;
  }

  function propertyClass(eventName, property) {
    const event = catalogEvent(eventName);
    const all = (catalog ? catalog.base_properties : []).concat(event ? event.properties : []);
    const found = all.find((p) => p.name === property);
    return found ? found.class : '';
  }

  // refreshBreakdownOptions lists the base properties and the properties of
  // the selected events that a trend may break down by.
  function refreshBreakdownOptions() {
    if (!catalog) {
      return;
    }
    const select = control('trend-breakdown');
    const current = select.value;
    const events = listValue('trend-event');
    const names = [];
    const add = (p) => {
      if (p.breakdown && !names.includes(p.name)) {
        names.push(p.name);
      }
    };
    catalog.base_properties.forEach(add);
    catalog.events.forEach((event) => {
      if (events.length === 0 || events.includes(event.name)) {
        event.properties.forEach(add);
      }
    });
    const options = [['', 'No breakdown']].concat(names.map((name) => [name, name]));
    replaceOptions(select, options, names.includes(current) ? current : '');
  }

  function refreshHistogramProperties() {
    const event = catalogEvent(control('hist-event').value);
    if (!event) {
      return;
    }
    const select = control('hist-property');
    const names = event.properties.filter((p) => p.histogram).map((p) => p.name);
    replaceOptions(select, names.map((name) => [name, name]), names.includes(select.value) ? select.value : names[0]);
  }

  function replaceOptions(select, pairs, selected) {
    select.replaceChildren();
    pairs.forEach((pair) => {
      const option = document.createElement('option');
      option.value = pair[0];
      option.textContent = pair[1];
      option.selected = pair[0] === selected;
      select.appendChild(option);
    });
  }

  // ---- Panels ----

  // panels maps each panel to the function that loads and draws it. A
  // drawing function keeps its data in drawn, so a theme change can redraw
  // without fetching again.
  const panels = {
    overview: loadOverview,
    trends: loadTrends,
    active: loadActive,
    'new-installs': loadNewInstalls,
    histogram: loadHistogram,
    funnel: loadFunnel,
    errors: loadErrors,
    retention: loadRetention,
  };

  // sections returns the panel elements a loader fills.
  function sections(name) {
    if (name === 'overview') {
      return [document.getElementById('versions'), document.getElementById('platforms')];
    }
    return [document.getElementById(name)];
  }

  // controllers contains the AbortController of each panel's latest load. A
  // new load of a panel aborts the one before it, whose late response would
  // otherwise draw over the newer one.
  const controllers = {};

  // runPanel loads and draws the named panel. It returns false when the
  // load failed, and true otherwise, also when a newer load replaced it.
  async function runPanel(name) {
    if (controllers[name]) {
      controllers[name].abort();
    }
    const controller = new AbortController();
    controllers[name] = controller;
    const elements = sections(name);
    elements.forEach((element) => {
      element.dataset.state = 'loading';
      element.setAttribute('aria-busy', 'true');
      const panelStatus = element.querySelector('.panel-status');
      if (panelStatus) {
        panelStatus.textContent = '';
        panelStatus.setAttribute('role', 'status');
      }
    });
    const undeclared = undeclaredReason(name);
    if (undeclared) {
      elements.forEach((element) => {
        showUndeclared(element, undeclared);
        element.removeAttribute('aria-busy');
      });
      return true;
    }
    try {
      await panels[name](controller.signal);
      elements.forEach((element) => { element.dataset.state = 'ready'; });
      return true;
    } catch (err) {
      if (controller.signal.aborted) {
        return true;
      }
      if (err.undeclared) {
        elements.forEach((element) => showUndeclared(element, err.message));
        return true;
      }
      // The panel's earlier data would look like the result of the new
      // settings, so clearPanel removes it.
      let message = err.input ? err.message : 'Loading failed: ' + err.message.replace(/\.?$/, '.');
      if (err.retryAfter) {
        message += ' Retrying in ' + err.retryAfter + ' s.';
        setTimeout(() => {
          if (controllers[name] === controller) {
            runPanels([name]);
          }
        }, err.retryAfter * 1000);
      }
      elements.forEach((element) => {
        clearPanel(element);
        element.dataset.state = 'error';
        const panelStatus = element.querySelector('.panel-status');
        if (panelStatus) {
          panelStatus.textContent = message;
          panelStatus.setAttribute('role', 'alert');
        }
      });
      return false;
    } finally {
      if (controllers[name] === controller) {
        elements.forEach((element) => element.removeAttribute('aria-busy'));
      }
    }
  }

  // undeclaredReason returns why the named panel has no data to load, or
  // ''. A funnel whose steps are typed in needs no declared funnel.
  function undeclaredReason(name) {
    const element = document.getElementById(name);
    const reason = element ? element.dataset.undeclared || '' : '';
    if (name === 'funnel' && control('funnel-steps').value.trim() !== '') {
      return '';
    }
    return reason;
  }

  // showUndeclared empties a panel and shows why it has no data: the
  // project's catalog does not declare the events it counts.
  function showUndeclared(element, message) {
    clearPanel(element);
    element.dataset.state = 'undeclared';
    if (element.id === 'new-installs') {
      document.querySelector('[data-metric="new_installs"]').dataset.value = 'undeclared';
    }
    const panelStatus = element.querySelector('.panel-status');
    panelStatus.textContent = message.charAt(0).toUpperCase() + message.slice(1) + '.';
    panelStatus.setAttribute('role', 'status');
  }

  // PANEL_DATA names, for each panel element whose id differs, the key of
  // its data in drawn.
  const PANEL_DATA = { 'new-installs': 'newInstalls', versions: 'overview', platforms: 'overview' };

  // PANEL_METRICS lists the headlines that each panel's load sets.
  const PANEL_METRICS = {
    versions: ['total_events', 'installs'],
    platforms: ['total_events', 'installs'],
    active: ['peak_active'],
    'new-installs': ['new_installs'],
  };

  // clearPanel removes a panel's charts, tables, notes, download links and
  // headlines, so that nothing from an earlier load stays on the page.
  function clearPanel(element) {
    drawn[PANEL_DATA[element.id] || element.id] = null;
    element.querySelectorAll('canvas').forEach((canvas) => {
      if (charts[canvas.id]) {
        charts[canvas.id].destroy();
        delete charts[canvas.id];
      }
    });
    element.querySelectorAll('table').forEach((table) => {
      table.querySelector('thead').replaceChildren();
      table.querySelector('tbody').replaceChildren();
    });
    element.querySelectorAll('.suppressed-note, .downloads').forEach((holder) => holder.replaceChildren());
    (PANEL_METRICS[element.id] || []).forEach((name) => {
      const metric = document.querySelector('[data-metric="' + name + '"]');
      metric.textContent = '–';
      metric.dataset.value = '';
      document.querySelector('[data-metric-note="' + name + '"]').textContent = '';
    });
  }

  // loadingBatches counts the calls of runPanels still waiting for their
  // panels. The last one to finish sets the page's state.
  let loadingBatches = 0;

  async function runPanels(names) {
    loadingBatches++;
    document.body.dataset.state = 'loading';
    status.textContent = 'Loading…';
    await Promise.all(names.map(runPanel));
    loadingBatches--;
    if (loadingBatches > 0) {
      return;
    }
    const failed = document.querySelectorAll('section.panel[data-state="error"]');
    document.body.dataset.state = failed.length === 0 ? 'ready' : 'error';
    status.textContent = failed.length === 0 ? '' : 'Some panels failed to load; each shows why.';
    status.setAttribute('role', failed.length === 0 ? 'status' : 'alert');
  }

  // setMetric shows a headline number, or SUPPRESSED_TEXT and why for
  // null. Each headline follows the API's rule for its rows: a count from
  // fewer than K installs, none included, is hidden, so a count the API
  // returns no row for is hidden too when K is above 1.
  function setMetric(name, value, note) {
    const element = document.querySelector('[data-metric="' + name + '"]');
    element.textContent = value === null ? SUPPRESSED_TEXT : numberFormat.format(value);
    element.dataset.value = value === null ? 'suppressed' : String(value);
    const noteElement = document.querySelector('[data-metric-note="' + name + '"]');
    if (noteElement) {
      noteElement.textContent = value === null ? 'Hidden: fewer than ' + K + ' installs, possibly none' : note || '';
    }
  }

  // countOrHidden returns 0 for a count with no row when K is 1, and null,
  // which shows as hidden, when K is above 1.
  function countOrHidden() {
    return K > 1 ? null : 0;
  }

  // absentCell returns the text of a table cell that the API returned no
  // row for. Its count is 0, which K above 1 hides as the API hides a zero
  // row, such as a funnel step that no install reached.
  function absentCell() {
    return K > 1 ? SUPPRESSED_TEXT : '0';
  }

  // setEmptyText writes text into a panel's status line when empty is
  // true, and clears it otherwise.
  function setEmptyText(id, empty, text) {
    document.getElementById(id).querySelector('.panel-status').textContent = empty ? text : '';
  }

  async function loadOverview(signal) {
    const overview = await fetchJSON(apiURL('overview'), signal);
    drawn.overview = overview;
    drawOverview();
    if (!overview.suppressed && overview.total_events === 0) {
      status.dataset.empty = 'true';
    }
  }

  function drawOverview() {
    const overview = drawn.overview;
    const colors = themeColors();
    setMetric('total_events', overview.suppressed ? null : overview.total_events);
    setMetric('installs', overview.suppressed ? null : overview.installs);
    drawKeyBars('versions', overview.top_versions, colors, 'Version');
    drawKeyBars('platforms', overview.top_platforms, colors, 'Platform');
    setEmptyText('versions', overview.top_versions.length === 0, 'No events match these filters.');
    setEmptyText('platforms', overview.top_platforms.length === 0, 'No events match these filters.');
    fillOptions('version-options', overview.top_versions.map((row) => quoteItem(row.key)));
    fillOptions('platform-options', overview.top_platforms.map((row) => quoteItem(row.key)));
    const names = Object.keys(overview.events).concat(overview.suppressed_events);
    if (catalog) {
      catalog.events.forEach((event) => {
        if (!names.includes(event.name)) {
          names.push(event.name);
        }
      });
    }
    fillOptions('event-options', names);
  }

  function drawKeyBars(name, rows, colors, label) {
    const options = baseOptions(colors);
    options.indexAxis = 'y';
    options.interaction = { mode: 'nearest', axis: 'y', intersect: false };
    options.scales.x.beginAtZero = true;
    options.scales.x.ticks.precision = 0;
    options.scales.y.grid.display = false;
    options.plugins.tooltip = {
      callbacks: {
        label: (item) => formatCount(rows[item.dataIndex], 'events') + ' events',
        afterLabel: (item) => formatCount(rows[item.dataIndex], 'installs') + ' installs',
      },
    };
    replaceChart(name + '-chart', {
      type: 'bar',
      data: {
        labels: rows.map((row) => row.key),
        datasets: [{
          label: 'Events',
          data: rows.map((row) => (row.suppressed ? null : row.events)),
          backgroundColor: colors.line,
          borderRadius: 4,
          maxBarThickness: 26,
        }],
      },
      options: options,
    });
    fillTable(name + '-table', [label, 'Events', 'Installs'],
      rows.map((row) => [row.key, formatCount(row, 'events'), formatCount(row, 'installs')]));
    setSuppressedNote(document.getElementById(name), countSuppressed(rows), label.toLowerCase(), label.toLowerCase() + 's');
  }

  async function loadTrends(signal) {
    const breakdown = control('trend-breakdown').value;
    const params = [
      ['interval', control('trend-interval').value],
      ['breakdown', breakdown],
      ['limit', breakdown ? String(MAX_SERIES) : ''],
    ];
    // The API splits the field's list itself.
    params.push(['event', control('trend-event').value.trim()]);
    const url = apiURL('trends', params);
    setDownloads('trends', url, 'trends');
    const body = await fetchJSON(url, signal);
    drawn.trends = { rows: body.rows, breakdown: breakdown, interval: control('trend-interval').value, measure: control('trend-measure').value };
    drawTrends();
  }

  function drawTrends() {
    const data = drawn.trends;
    const colors = themeColors();
    const labels = periodLabels(data.interval, data.rows, 'period');
    const multipleEvents = new Set(data.rows.map((row) => row.event)).size > 1;
    const seriesName = (row) => {
      if (!data.breakdown) {
        return row.event;
      }
      return multipleEvents ? row.event + ' · ' + row[data.breakdown] : row[data.breakdown];
    };
    const stacked = data.measure === 'events';
    const all = seriesData(data.rows, labels, 'period', seriesName, data.measure, 0);
    // The API merges the values beyond its limit into OTHER_VALUE. The
    // events chart adds that bucket to its own Other series, so that one
    // grey series stands for every value without a series of its own.
    const isOther = (series) => Boolean(data.breakdown) &&
      (series.name === OTHER_VALUE || series.name.endsWith(' · ' + OTHER_VALUE));
    const named = stacked ? all.filter((series) => !isOther(series)) : all;
    const shown = named.slice(0, MAX_SERIES);
    const folded = stacked ? named.slice(MAX_SERIES).concat(all.filter(isOther)) : [];

    const datasets = shown.map((series, i) => (stacked
      ? barDataset(series.name, series.data, PALETTE[i % PALETTE.length])
      : lineDataset(series.name, series.data, PALETTE[i % PALETTE.length])));
    if (folded.length > 0) {
      // Event counts add up, so the series beyond the first ones are
      // summed. Install counts do not, so the installs chart leaves them
      // out and the table lists them.
      const other = new Array(labels.length).fill(0);
      folded.forEach((series) => series.data.forEach((value, i) => { other[i] += value || 0; }));
      datasets.push(barDataset('Other', other, OTHER_COLOR));
    }

    const options = baseOptions(colors);
    periodAxis(options, labels, data.interval);
    options.scales.x.stacked = stacked;
    options.scales.y.stacked = stacked;
    showLegend(options);
    replaceChart('trends-chart', { type: stacked ? 'bar' : 'line', data: { labels: labels, datasets: datasets }, options: options });

    const header = ['Period', 'Event'].concat(data.breakdown ? [data.breakdown] : [], ['Events', 'Installs']);
    fillTable('trends-table', header, data.rows.map((row) => [row.period, row.event]
      .concat(data.breakdown ? [row[data.breakdown]] : [], [formatCount(row, 'events'), formatCount(row, 'installs')])));
    const section = document.getElementById('trends');
    setSuppressedNote(section, countSuppressed(data.rows), 'cell', 'cells');
    if (data.rows.length === 0) {
      section.querySelector('.panel-status').textContent = 'No events match these filters.';
    }
  }

  async function loadActive(signal) {
    const url = apiURL('active_installs');
    setDownloads('active_installs', url, 'active installs');
    const body = await fetchJSON(url, signal);
    drawn.active = body.rows;
    drawActive();
  }

  function drawActive() {
    const rows = drawn.active;
    const colors = themeColors();
    const labels = periodLabels('day', rows, 'day');
    const all = seriesData(rows, labels, 'day', (row) => row.window, 'installs', 0)
      .sort((a, b) => a.name - b.name);
    const datasets = all.map((series, i) => lineDataset(WINDOW_LABELS[series.name] || series.name + ' days', series.data,
      i === 0 ? colors.line : PALETTE[(i + 1) % PALETTE.length], i === 0 ? colors.fill : null));
    const options = baseOptions(colors);
    periodAxis(options, labels, 'day');
    showLegend(options);
    replaceChart('active-chart', { type: 'line', data: { labels: labels, datasets: datasets }, options: options });

    const byDay = new Map();
    rows.forEach((row) => {
      if (!byDay.has(row.day)) {
        byDay.set(row.day, {});
      }
      byDay.get(row.day)[row.window] = formatCount(row, 'installs');
    });
    const windows = all.map((series) => series.name);
    let absent = 0;
    fillTable('active-table', ['Day'].concat(windows.map((w) => WINDOW_LABELS[w] || w + ' days')),
      Array.from(byDay.keys()).sort().map((day) => [day].concat(windows.map((w) => {
        const cell = byDay.get(day)[w];
        if (cell !== undefined) {
          return cell;
        }
        absent++;
        return absentCell();
      }))));
    setSuppressedNote(document.getElementById('active'), countSuppressed(rows) + (K > 1 ? absent : 0), 'point', 'points');

    let peak = null;
    rows.forEach((row) => {
      if (row.window === 1 && !row.suppressed && (peak === null || row.installs > peak.installs)) {
        peak = row;
      }
    });
    setMetric('peak_active', peak ? peak.installs : countOrHidden(), peak ? 'on ' + formatDay(peak.day, longDayFormat) : '');
    setEmptyText('active', rows.every((row) => !row.suppressed && row.installs === 0), 'No active installs match these filters.');
  }

  async function loadNewInstalls(signal) {
    const interval = control('trend-interval').value;
    const url = apiURL('new_installs', [['interval', interval]]);
    setDownloads('new_installs', url, 'new installs');
    drawn.newInstalls = null;
    const results = await Promise.all([fetchJSON(url, signal), fetchJSON(apiURL('new_installs', [['interval', 'all']]), signal)]);
    drawn.newInstalls = { rows: results[0].rows, total: results[1].rows, interval: interval };
    drawNewInstalls();
  }

  function drawNewInstalls() {
    const data = drawn.newInstalls;
    const colors = themeColors();
    const labels = periodLabels(data.interval, data.rows, 'period');
    const series = seriesData(data.rows, labels, 'period', () => 'New installs', 'installs', 0);
    const values = series.length > 0 ? series[0].data : new Array(labels.length).fill(0);
    const options = baseOptions(colors);
    periodAxis(options, labels, data.interval);
    replaceChart('new-installs-chart', {
      type: 'bar',
      data: { labels: labels, datasets: [Object.assign(barDataset('New installs', values, colors.line), { borderRadius: 3 })] },
      options: options,
    });
    fillTable('new-installs-table', ['Period', 'Installs'], data.rows.map((row) => [row.period, formatCount(row, 'installs')]));
    setSuppressedNote(document.getElementById('new-installs'), countSuppressed(data.rows), 'period', 'periods');
    setEmptyText('new-installs', data.rows.length === 0, 'No new installs match these filters.');
    const total = data.total[0];
    if (!total) {
      setMetric('new_installs', countOrHidden());
    } else if (total.suppressed) {
      setMetric('new_installs', null);
    } else {
      setMetric('new_installs', total.installs);
    }
  }

  async function loadHistogram(signal) {
    const event = control('hist-event').value;
    const property = control('hist-property').value;
    if (!event || !property) {
      drawn.histogram = { rows: [], event: event, property: property };
      drawHistogram();
      return;
    }
    const url = apiURL('histogram', [['event', event], ['property', property]]);
    setDownloads('histogram', url, 'the distribution');
    const body = await fetchJSON(url, signal);
    drawn.histogram = { rows: body.rows, event: event, property: property };
    drawHistogram();
  }

  // valueLabel names a histogram bar: a base2 value v stands for values up
  // to v, a bucket value for values from v up to the next edge.
  function valueLabel(value, propertyClassName) {
    const text = numberFormat.format(value);
    if (propertyClassName === 'base2') {
      return '≤ ' + text;
    }
    if (propertyClassName === 'bucket') {
      return '≥ ' + text;
    }
    return text;
  }

  function drawHistogram() {
    const data = drawn.histogram;
    const colors = themeColors();
    const className = propertyClass(data.event, data.property);
    const labels = data.rows.map((row) => valueLabel(row.value, className));
    const options = baseOptions(colors);
    options.plugins.tooltip = {
      callbacks: {
        label: (item) => formatCount(data.rows[item.dataIndex], 'events') + ' events',
        afterLabel: (item) => formatCount(data.rows[item.dataIndex], 'installs') + ' installs',
      },
    };
    replaceChart('histogram-chart', {
      type: 'bar',
      data: {
        labels: labels,
        datasets: [Object.assign(barDataset('Events', data.rows.map((row) => (row.suppressed ? null : row.events)), colors.line), { borderRadius: 3 })],
      },
      options: options,
    });
    fillTable('histogram-table', [data.property || 'Value', 'Events', 'Installs'],
      data.rows.map((row, i) => [labels[i], formatCount(row, 'events'), formatCount(row, 'installs')]));
    setSuppressedNote(document.getElementById('histogram'), countSuppressed(data.rows), 'bar', 'bars');
    const section = document.getElementById('histogram');
    section.querySelector('.panel-status').textContent = data.rows.length === 0 ? 'No values match these filters.' : '';
    section.querySelector('canvas').setAttribute('aria-label', 'Bar chart of ' + data.event + ' events per value of ' + data.property);
  }

  async function loadFunnel(signal) {
    const steps = splitSteps(control('funnel-steps').value);
    const maxSteps = Number(document.getElementById('funnel').dataset.maxSteps);
    // An empty field selects the project's declared funnel, but a field
    // of only separators is a typo.
    const typedNone = steps.length === 0 && control('funnel-steps').value.trim() !== '';
    if (typedNone || steps.length === 1 || steps.length > maxSteps) {
      const count = { 0: 'no step', 1: '1 step' }[steps.length] || steps.length + ' steps';
      const err = new Error('The Steps field has ' + count + ': enter 2 to ' + maxSteps + ' steps, separated by >.');
      err.input = true;
      throw err;
    }
    // The declared steps go without step parameters, so that the API
    // counts only the projects that declare them, as it does for the
    // other declared panels.
    const declared = splitSteps(document.getElementById('funnel').dataset.declaredSteps || '');
    const isDeclared = steps.length === declared.length && steps.every((step, i) => step === declared[i]);
    const params = isDeclared ? [] : steps.map((step) => ['step', step]);
    params.push(['window', control('funnel-window').value]);
    const url = apiURL('funnel', params);
    setDownloads('funnel', url, 'the funnel');
    drawn.funnel = null;
    const body = await fetchJSON(url, signal);
    drawn.funnel = body.rows;
    drawFunnel();
  }

  // funnelStepLabel returns the chart label of a funnel step, with its
  // conditions on a second line, so that the label fits beside the bar on
  // a narrow screen.
  function funnelStepLabel(row) {
    const label = row.step + '. ' + row.event;
    const bracket = label.indexOf('[');
    return bracket < 0 ? label : [label.slice(0, bracket), label.slice(bracket)];
  }

  function drawFunnel() {
    const rows = drawn.funnel;
    const colors = themeColors();
    const options = baseOptions(colors);
    options.indexAxis = 'y';
    options.interaction = { mode: 'nearest', axis: 'y', intersect: false };
    options.scales.y.grid.display = false;
    options.plugins.tooltip = {
      callbacks: {
        label: (item) => formatCount(rows[item.dataIndex], 'installs') + ' installs',
        afterLabel: (item) => formatShare(rows[item.dataIndex], 'conversion') + ' of the first step',
      },
    };
    replaceChart('funnel-chart', {
      type: 'bar',
      data: {
        labels: rows.map(funnelStepLabel),
        datasets: [Object.assign(barDataset('Installs', rows.map((row) => (row.suppressed ? null : row.installs)), colors.line), { borderRadius: 4, maxBarThickness: 34 })],
      },
      options: options,
    });
    fillTable('funnel-table', ['Step', 'Installs', 'Of first step', 'Of previous step'], rows.map((row) => [
      row.step + '. ' + row.event, formatCount(row, 'installs'), formatShare(row, 'conversion'), formatShare(row, 'step_conversion'),
    ]));
    setSuppressedNote(document.getElementById('funnel'), countSuppressed(rows), 'step', 'steps');
  }

  // loadErrors fetches the errors by the first declared property per
  // period for the chart, and by both over the range for the table. The
  // server puts the declared properties, such as errorType,context, in the
  // panel's data-breakdown attribute.
  async function loadErrors(signal) {
    const section = document.getElementById('errors');
    const breakdown = section.dataset.breakdown ? section.dataset.breakdown.split(',') : [];
    const interval = control('trend-interval').value;
    const url = apiURL('errors', [['interval', interval], ['breakdown', breakdown[0]], ['limit', String(MAX_SERIES)]]);
    const matrixURL = apiURL('errors', [['interval', 'all']]);
    const caption = section.querySelector('caption').textContent;
    setDownloads('errors', matrixURL, caption.charAt(0).toLowerCase() + caption.slice(1));
    drawn.errors = null;
    const results = await Promise.all([fetchJSON(url, signal), fetchJSON(matrixURL, signal)]);
    drawn.errors = { rows: results[0].rows, matrix: results[1].rows, interval: interval, breakdown: breakdown, rowLabel: section.dataset.rowLabel };
    drawErrors();
  }

  function drawErrors() {
    const data = drawn.errors;
    const colors = themeColors();
    const first = data.breakdown[0];
    const second = data.breakdown[1];
    const labels = periodLabels(data.interval, data.rows, 'period');
    const all = seriesData(data.rows, labels, 'period', (row) => row[first], 'events', 0);
    const datasets = all.map((series, i) => barDataset(series.name, series.data, series.name === OTHER_VALUE ? OTHER_COLOR : PALETTE[i % PALETTE.length]));
    const options = baseOptions(colors);
    periodAxis(options, labels, data.interval);
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    showLegend(options);
    replaceChart('errors-chart', { type: 'bar', data: { labels: labels, datasets: datasets }, options: options });

    // With one declared property the table has a single column of counts.
    const column = (row) => (second ? row[second] : 'Errors');
    const types = Array.from(new Set(data.matrix.map((row) => row[first]))).sort();
    const contexts = Array.from(new Set(data.matrix.map(column))).sort();
    const cells = new Map(data.matrix.map((row) => [row[first] + '\u0000' + column(row), row]));
    let absent = 0;
    fillTable('errors-table', [data.rowLabel].concat(contexts), types.map((type) => [type].concat(contexts.map((context) => {
      const row = cells.get(type + '\u0000' + context);
      if (!row) {
        absent++;
        return absentCell();
      }
      return row.suppressed ? SUPPRESSED_TEXT : numberFormat.format(row.events) + ' (' + numberFormat.format(row.installs) + ')';
    }))));
    const hiddenAbsent = K > 1 ? absent : 0;
    setSuppressedNote(document.getElementById('errors'), countSuppressed(data.rows) + countSuppressed(data.matrix) + hiddenAbsent, 'cell', 'cells');
    document.getElementById('errors').querySelector('.panel-status').textContent =
      data.matrix.length === 0 ? 'No errors match these filters.' : '';
  }

  async function loadRetention(signal) {
    const url = apiURL('retention', [['weeks', control('retention-weeks').value]]);
    setDownloads('retention', url, 'retention');
    const body = await fetchJSON(url, signal);
    drawn.retention = { rows: body.rows, weeks: Number(control('retention-weeks').value) };
    drawRetention();
  }

  function drawRetention() {
    const data = drawn.retention;
    const table = document.getElementById('retention-table');
    const cohorts = new Map();
    data.rows.forEach((row) => {
      if (!cohorts.has(row.cohort)) {
        cohorts.set(row.cohort, new Map());
      }
      cohorts.get(row.cohort).set(row.week, row);
    });
    const weeks = Math.max(0, data.weeks || 0);
    const to = parseDay(main.dataset.to);

    const headRow = document.createElement('tr');
    ['Cohort', 'Installs'].concat(Array.from({ length: weeks + 1 }, (_, week) => 'Week ' + week)).forEach((text, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = text;
      if (i > 0) {
        th.className = 'num';
      }
      headRow.appendChild(th);
    });
    table.querySelector('thead').replaceChildren(headRow);

    const body = table.querySelector('tbody');
    body.replaceChildren();
    let suppressed = 0;
    Array.from(cohorts.keys()).sort().forEach((cohort) => {
      const cells = cohorts.get(cohort);
      const first = cells.get(0);
      const cohortHidden = !first || first.suppressed;
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = formatDay(cohort, longDayFormat);
      tr.appendChild(th);
      tr.appendChild(retentionCell(cohortHidden ? SUPPRESSED_TEXT : numberFormat.format(first.installs), null));
      for (let week = 0; week <= weeks; week++) {
        const reached = parseDay(cohort) + week * 7 * DAY_MS <= to;
        const row = cells.get(week);
        let text = '';
        let share = null;
        // A week that has not begun stays blank, also for a hidden cohort.
        const begun = reached || row !== undefined;
        if (begun && (cohortHidden || (row && row.suppressed))) {
          text = SUPPRESSED_TEXT;
          suppressed++;
        } else if (row) {
          share = row.retention;
          text = percentFormat.format(share);
        } else if (reached) {
          share = 0;
          text = percentFormat.format(0);
        }
        tr.appendChild(retentionCell(text, share));
      }
      body.appendChild(tr);
    });
    const section = document.getElementById('retention');
    section.querySelector('.panel-status').textContent = cohorts.size === 0 ? 'No installs match these filters.' : '';
    const note = section.querySelector('.suppressed-note');
    if (note) {
      note.textContent = '';
    }
    table.dataset.suppressed = String(suppressed);
  }

  function retentionCell(text, share) {
    const td = document.createElement('td');
    td.textContent = text;
    td.className = 'num';
    if (text === SUPPRESSED_TEXT) {
      td.className += ' suppressed';
    } else if (share !== null) {
      td.className += ' heat-' + Math.min(9, Math.floor(share * 10));
    }
    return td;
  }

  function setExportLinks() {
    const links = {
      'export-aggregate-csv': apiURL('export/aggregate', [['format', 'csv']]),
      'export-aggregate-parquet': apiURL('export/aggregate', [['format', 'parquet']]),
      'export-events-csv': apiURL('export/events', [['format', 'csv']]),
      'export-events-parquet': apiURL('export/events', [['format', 'parquet']]),
    };
    Object.keys(links).forEach((id) => {
      const link = document.getElementById(id);
      if (link) {
        link.href = links[id];
      }
    });
  }

  function redrawAll() {
    [['overview', drawOverview], ['trends', drawTrends], ['active', drawActive], ['newInstalls', drawNewInstalls],
      ['histogram', drawHistogram], ['funnel', drawFunnel], ['errors', drawErrors], ['retention', drawRetention]]
      .forEach((pair) => {
        if (drawn[pair[0]]) {
          pair[1]();
        }
      });
  }

  // reloadOn reloads the named panels when the control with id changes.
  function reloadOn(id, names, before) {
    control(id).addEventListener('change', () => {
      if (before) {
        before();
      }
      updateURL();
      runPanels(names);
    });
  }

  async function start() {
    if (typeof Chart === 'undefined') {
      document.body.dataset.state = 'error';
      status.textContent = 'The chart library failed to load. Reload the page.';
      status.setAttribute('role', 'alert');
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    setExportLinks();

    try {
      const project = new URLSearchParams(main.dataset.query).get('project');
      catalog = await fetchJSON('/api/v1/catalog' + (project === null ? '' : '?project=' + encodeURIComponent(project)));
    } catch (err) {
      catalog = null;
    }
    refreshHistogramProperties();

    reloadOn('trend-event', ['trends'], refreshBreakdownOptions);
    reloadOn('trend-breakdown', ['trends']);
    reloadOn('trend-interval', ['trends', 'new-installs', 'errors']);
    control('trend-measure').addEventListener('change', () => {
      updateURL();
      if (drawn.trends) {
        drawn.trends.measure = control('trend-measure').value;
        drawTrends();
      }
    });
    reloadOn('hist-event', ['histogram'], refreshHistogramProperties);
    reloadOn('hist-property', ['histogram']);
    reloadOn('funnel-steps', ['funnel']);
    reloadOn('funnel-window', ['funnel']);
    reloadOn('retention-weeks', ['retention']);

    await runPanels(Object.keys(panels));
    if (status.dataset.empty === 'true' && document.body.dataset.state === 'ready') {
      status.textContent = 'No events match these filters.';
    }
  }

  // Redraw with the other theme's colors when the system switches between
  // light and dark.
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawAll);

  start();
})();
