// Script of the candor dashboard page. It fetches the query API with the
// session cookie and draws the headline numbers, the charts and the tables
// behind them. The server puts the API query string, built from the page's
// URL, in the data-query attribute of <main>, so the URL alone defines the
// view. The body's data-state attribute is "loading", "ready" or "error".
(function () {
  'use strict';

  const DAY_MS = 24 * 60 * 60 * 1000;

  // MAX_SERIES is how many event names the stacked chart draws on their own.
  // The others are summed into one "Other" series, because more colors than
  // this are hard to tell apart.
  const MAX_SERIES = 9;

  // MAX_FILLED_DAYS bounds the range whose days without events are drawn as
  // zeros. Longer ranges show only the days that have data.
  const MAX_FILLED_DAYS = 1100;

  const PALETTE = [
    '#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6',
    '#06b6d4', '#ec4899', '#84cc16', '#f97316',
  ];
  const OTHER_COLOR = '#94a3b8';

  const main = document.getElementById('content');
  const status = document.getElementById('status');
  if (!main || !status || !main.dataset.query) {
    // The server rejected the URL's parameters and shows why instead.
    return;
  }

  const numberFormat = new Intl.NumberFormat();
  const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const longDayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
  const charts = {};
  let loaded = null;

  function setState(state, message) {
    document.body.dataset.state = state;
    status.textContent = message;
    status.setAttribute('role', state === 'error' ? 'alert' : 'status');
  }

  async function fetchJSON(path) {
    const response = await fetch('/api/v1/' + path + '?' + main.dataset.query, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
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
      const reason = body && body.error ? body.error : 'status ' + response.status;
      throw new Error('Loading ' + path + ' failed: ' + reason);
    }
    return body;
  }

  function parseDay(day) {
    return Date.parse(day + 'T00:00:00Z');
  }

  function formatDay(day, format) {
    return format.format(new Date(parseDay(day)));
  }

  // dayLabels returns every day of the page's range, or the days that have
  // data when the range is open or too long to draw day by day.
  function dayLabels(perDay, active) {
    const from = parseDay(main.dataset.from);
    const to = parseDay(main.dataset.to);
    if (!isNaN(from) && !isNaN(to) && to >= from && (to - from) / DAY_MS <= MAX_FILLED_DAYS) {
      const days = [];
      for (let t = from; t <= to; t += DAY_MS) {
        days.push(new Date(t).toISOString().slice(0, 10));
      }
      return days;
    }
    const present = new Set();
    perDay.forEach((row) => present.add(row.day));
    active.forEach((row) => present.add(row.day));
    return Array.from(present).sort();
  }

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

  function dayAxis(options, days) {
    options.scales.x.ticks.autoSkip = true;
    options.scales.x.ticks.maxRotation = 0;
    options.scales.x.ticks.callback = (value) => formatDay(days[value], dayFormat);
    options.plugins.tooltip = {
      callbacks: { title: (items) => formatDay(days[items[0].dataIndex], longDayFormat) },
    };
  }

  function replaceChart(id, config) {
    if (charts[id]) {
      charts[id].destroy();
    }
    charts[id] = new Chart(document.getElementById(id), config);
  }

  // eventSeries splits the event names into the ones drawn on their own,
  // most events first, and the rest.
  function eventSeries(overview) {
    const names = Object.keys(overview.events).sort(
      (a, b) => overview.events[b] - overview.events[a] || a.localeCompare(b));
    if (names.length <= MAX_SERIES + 1) {
      return { shown: names, other: [] };
    }
    return { shown: names.slice(0, MAX_SERIES), other: names.slice(MAX_SERIES) };
  }

  function drawEventsChart(days, perDay, overview, colors) {
    const index = new Map(days.map((day, i) => [day, i]));
    const series = eventSeries(overview);
    const values = new Map();
    series.shown.forEach((name) => values.set(name, new Array(days.length).fill(0)));
    const other = new Array(days.length).fill(0);
    perDay.forEach((row) => {
      const i = index.get(row.day);
      if (i === undefined) {
        return;
      }
      (values.get(row.event) || other)[i] += row.count;
    });

    const datasets = series.shown.map((name, i) => ({
      label: name,
      data: values.get(name),
      backgroundColor: PALETTE[i % PALETTE.length],
      borderWidth: 0,
    }));
    if (series.other.length > 0) {
      datasets.push({ label: 'Other (' + series.other.length + ' event names)', data: other, backgroundColor: OTHER_COLOR, borderWidth: 0 });
    }

    const options = baseOptions(colors);
    dayAxis(options, days);
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    options.plugins.legend.display = true;
    options.plugins.legend.position = 'bottom';
    replaceChart('events-chart', { type: 'bar', data: { labels: days, datasets: datasets }, options: options });
  }

  function drawActiveChart(days, active, colors) {
    const index = new Map(days.map((day, i) => [day, i]));
    const data = new Array(days.length).fill(0);
    active.forEach((row) => {
      const i = index.get(row.day);
      if (i !== undefined) {
        data[i] = row.value;
      }
    });

    const options = baseOptions(colors);
    dayAxis(options, days);
    replaceChart('active-chart', {
      type: 'line',
      data: {
        labels: days,
        datasets: [{
          label: 'Active installs',
          data: data,
          borderColor: colors.line,
          backgroundColor: colors.fill,
          fill: true,
          cubicInterpolationMode: 'monotone',
          borderWidth: 2,
          pointRadius: days.length > 60 ? 0 : 2.5,
          pointHoverRadius: 4,
        }],
      },
      options: options,
    });
  }

  function drawBreakdownChart(id, rows, colors) {
    const options = baseOptions(colors);
    options.indexAxis = 'y';
    options.interaction = { mode: 'nearest', axis: 'y', intersect: false };
    options.scales.x.beginAtZero = true;
    options.scales.x.ticks.precision = 0;
    options.scales.y.grid.display = false;
    options.plugins.tooltip = {
      callbacks: {
        label: (item) => numberFormat.format(rows[item.dataIndex].events) + ' events',
        afterLabel: (item) => numberFormat.format(rows[item.dataIndex].installs) + ' installs',
      },
    };
    replaceChart(id, {
      type: 'bar',
      data: {
        labels: rows.map((row) => row.key),
        datasets: [{
          label: 'Events',
          data: rows.map((row) => row.events),
          backgroundColor: colors.line,
          borderRadius: 4,
          maxBarThickness: 26,
        }],
      },
      options: options,
    });
  }

  function fillTable(id, rows) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    rows.forEach((cells) => {
      const tr = document.createElement('tr');
      cells.forEach((cell, i) => {
        const td = document.createElement('td');
        td.textContent = typeof cell === 'number' ? numberFormat.format(cell) : cell;
        if (i > 0) {
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

  function setMetric(name, value, note) {
    const element = document.querySelector('[data-metric="' + name + '"]');
    element.textContent = numberFormat.format(value);
    element.dataset.value = String(value);
    const noteElement = document.querySelector('[data-metric-note="' + name + '"]');
    if (noteElement) {
      noteElement.textContent = note || '';
    }
  }

  function drawMetrics(overview, active) {
    let peak = null;
    active.forEach((row) => {
      if (peak === null || row.value > peak.value) {
        peak = row;
      }
    });
    setMetric('total_events', overview.total_events);
    setMetric('installs', overview.installs);
    setMetric('peak_active', peak ? peak.value : 0, peak ? 'on ' + formatDay(peak.day, longDayFormat) : '');
    setMetric('event_names', Object.keys(overview.events).length);
  }

  function drawAll(data) {
    const colors = themeColors();
    const days = dayLabels(data.perDay, data.active);
    const eventNames = eventSeries(data.overview);
    const allNames = eventNames.shown.concat(eventNames.other);

    drawMetrics(data.overview, data.active);
    drawEventsChart(days, data.perDay, data.overview, colors);
    drawActiveChart(days, data.active, colors);
    drawBreakdownChart('versions-chart', data.overview.top_versions, colors);
    drawBreakdownChart('platforms-chart', data.overview.top_platforms, colors);

    fillTable('events-table', allNames.map((name) => [name, data.overview.events[name]]));
    fillTable('active-table', data.active.map((row) => [row.day, row.value]));
    fillTable('versions-table', data.overview.top_versions.map((row) => [row.key, row.events, row.installs]));
    fillTable('platforms-table', data.overview.top_platforms.map((row) => [row.key, row.events, row.installs]));
    fillOptions('version-options', data.overview.top_versions.map((row) => row.key));
    fillOptions('platform-options', data.overview.top_platforms.map((row) => row.key));
    fillOptions('event-options', allNames);
  }

  async function load() {
    setState('loading', 'Loading…');
    if (typeof Chart === 'undefined') {
      setState('error', 'The chart library failed to load. Reload the page.');
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    try {
      const results = await Promise.all([
        fetchJSON('overview'), fetchJSON('events_per_day'), fetchJSON('active_installs'),
      ]);
      loaded = { overview: results[0], perDay: results[1], active: results[2] };
      drawAll(loaded);
      setState('ready', loaded.overview.total_events === 0 ? 'No events match these filters.' : '');
    } catch (err) {
      setState('error', err.message);
    }
  }

  // Redraw with the other theme's colors when the system switches between
  // light and dark.
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (loaded) {
      drawAll(loaded);
    }
  });

  load();
})();
