// tach's console: each view reads tach's own JSON API and renders it here,
// so it shows exactly what API clients get. The URL's query string holds a
// view's filters (a filter form is a plain GET form), so every view
// deep-links. Data only ever enters the page as text nodes, never as HTML.
"use strict";

// ---- helpers -------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const query = new URLSearchParams(location.search);
const param = (name, fallback = "") => query.get(name) ?? fallback;

/** The read token entered on a signature page, kept for this browser session. */
const readToken = () => sessionStorage.getItem("tach-read-token") || "";

/** GETs a JSON answer; an error answer becomes an Error with its message. */
async function api(path, { protectedFields = false } = {}) {
  const headers = { Accept: "application/json" };
  if (protectedFields && readToken()) headers["X-Auth-Token"] = readToken();
  const response = await fetch(path, { headers });
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!response.ok) throw new Error(`${response.status}: ${errorMessage(body)} (${path})`);
  return body;
}

/** The message of any family's error shape. */
function errorMessage(body) {
  if (Array.isArray(body) && Array.isArray(body[1])) return body[1].join(": ");
  if (body && body.error && body.error.message) return body.error.message;
  if (body && body.message) return body.message;
  return typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200);
}

const message = (text, kind = "") => el("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);

/** Runs `load` into `container`, showing its error as a message. */
async function section(container, load) {
  container.replaceChildren(message("Loading…"));
  try {
    const content = await load();
    container.replaceChildren(...[content].flat());
  } catch (error) {
    container.replaceChildren(message(String(error.message || error), "error"));
  }
}

/** A stacky table (row 0 the header) as an HTML table; `cell` may wrap values. */
function stackyTable(rows, { empty = "Nothing matches.", cell, rowClass } = {}) {
  if (!Array.isArray(rows) || rows.length <= 1) return message(empty);
  const [header, ...body] = rows;
  return el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, header.map((name) => el("th", {}, name)))),
    el("tbody", {}, body.map((row) => el("tr", { class: rowClass ? rowClass(row) : null },
      row.map((value, index) => el("td", { class: typeof value === "number" ? "num" : null },
        cell ? cell(header[index], value, row) : value)))))));
}

/** A table of objects by `columns` ([label, value of a row]). */
function objectTable(items, columns, { empty = "Nothing matches.", rowClass } = {}) {
  if (!items.length) return message(empty);
  return el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, columns.map(([label]) => el("th", {}, label)))),
    el("tbody", {}, items.map((item) => el("tr", { class: rowClass ? rowClass(item) : null },
      columns.map(([, value]) => {
        const shown = value(item);
        return el("td", { class: typeof shown === "number" ? "num" : null }, shown ?? "");
      }))))));
}

/** A GET form for a view's filters; `fields` are [name, label, input]. */
function filters(fields, submit = "Show") {
  return el("form", { class: "filters", method: "get" },
    fields.map(([name, label, input]) => el("label", {}, label, input || el("input", { name, value: param(name) }))),
    el("button", { type: "submit" }, submit));
}

function select(name, options, current) {
  return el("select", { name }, options.map(([value, label]) =>
    el("option", { value, selected: String(value) === String(current) }, label)));
}

const showLink = (id, service = "nova") => el("a", { href: `/stacky/show/${id}?service=${service}`, title: "The event as received (JSON)" }, String(id));

/** "0d 00:00:55.50" (stacky's duration) in seconds. */
function durationSeconds(text) {
  const match = /^(\d+)d (\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(String(text).trim());
  if (!match) return NaN;
  return Number(match[1]) * 86400 + Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
}

/** stacky's "YYYY-MM-DD HH:MM:SS.ffffff" (UTC) in milliseconds. */
const stackyTime = (text) => Date.parse(String(text).replace(" ", "T") + "Z");

/** Marks the view loaded, for people and for the browser tests. */
const ready = () => document.body.setAttribute("data-ready", "true");

/** A small line or bar chart with uPlot. */
function chart(title, xs, series, { bars = false, width, height = 220, xTime = false } = {}) {
  const box = el("div", { class: "chart" }, el("div", { class: "muted" }, title));
  const plotWidth = width || Math.max(280, Math.min(1100, document.querySelector("main").clientWidth - 40));
  const colours = ["#1f5fbf", "#e08a00", "#1e7b34", "#b3261e", "#6b4fbb"];
  const options = {
    width: plotWidth, height,
    scales: { x: { time: xTime } },
    series: [{}, ...series.map(([label], index) => ({
      label, stroke: colours[index % colours.length], width: bars ? 0 : 2,
      fill: bars ? colours[index % colours.length] + "cc" : undefined,
      paths: bars && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 60] }) : undefined,
      points: { show: !bars && xs.length < 60 },
    }))],
    legend: { show: series.length > 1 },
  };
  box.append(el("div", { class: "plot" }));
  queueMicrotask(() => new uPlot(options, [xs, ...series.map(([, ys]) => ys)], box.querySelector(".plot")));
  return box;
}

/** An inline SVG sparkline of `values`. */
function sparkline(values) {
  const width = 90, height = 18, max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${(height - 1 - (value / max) * (height - 2)).toFixed(1)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("class", "sparkline");
  svg.setAttribute("aria-label", `daily counts ${values.join(", ")}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points); line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1f5fbf"); line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

// ---- views ---------------------------------------------------------------

const views = {};

/** Live: the events as they are committed, pushed by the stream. */
views.live = async (main) => {
  const deployments = await api("/stacky/deployments").catch(() => [["#", "Name"]]);
  const deployment = param("deployment", "0");
  const service = param("service", "nova");
  const eventName = param("event_name");
  main.append(el("h1", {}, "Live events"), filters([
    ["deployment", "Deployment", select("deployment", [["0", "every deployment"], ...deployments.slice(1).map(([id, name]) => [id, name])], deployment)],
    ["service", "Service", select("service", [["nova", "nova"], ["glance", "glance"], ["generic", "generic"]], service)],
    ["event_name", "Event name", el("input", { name: "event_name", value: eventName, placeholder: "any" })],
  ], "Watch"));
  const state = el("span", { class: "status", id: "live-state" }, "connecting");
  const count = el("span", { class: "muted", id: "live-count" }, "0 events");
  const pause = el("button", { type: "button", class: "secondary", id: "live-pause" }, "Pause");
  main.append(el("p", {}, state, " ", pause, " ", count));
  const body = el("tbody", { id: "live-rows" });
  main.append(el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ["#", "?", "Date", "Time", "Deployment", "Event", "UUID"].map((name) => el("th", {}, name)))),
    body)));
  // The ids received, in order: for people reading the counter and for the tests.
  const live = (window.tachLive = { ids: [], paused: false, held: [] });
  const show = (row) => {
    const tr = el("tr", { class: row[1] === "E" ? "error" : null, "data-id": row[0] },
      el("td", { class: "num" }, showLink(row[0], service)), row.slice(1).map((value) => el("td", {}, value)));
    body.prepend(tr);
    while (body.rows.length > 500) body.deleteRow(-1);
  };
  pause.addEventListener("click", () => {
    live.paused = !live.paused;
    pause.textContent = live.paused ? "Resume" : "Pause";
    state.className = `status ${live.paused ? "paused" : "connected"}`;
    state.textContent = live.paused ? "paused" : "connected";
    if (!live.paused) live.held.splice(0).forEach(show);
  });
  const search = new URLSearchParams({ service });
  if (eventName) search.set("event_name", eventName);
  const source = new EventSource(`/stacky/watch/${encodeURIComponent(deployment)}/stream?${search}`);
  live.source = source;
  source.onopen = () => { if (!live.paused) { state.className = "status connected"; state.textContent = "connected"; } };
  source.onerror = () => { state.className = "status disconnected"; state.textContent = "reconnecting"; };
  source.onmessage = (event) => {
    const row = JSON.parse(event.data);
    live.ids.push(row[0]);
    count.textContent = `${live.ids.length} events`;
    if (live.paused) live.held.push(row); else show(row);
  };
  ready();
};

/** Pairs `.start`s with `.end`s of one operation in time order. */
function timelineBars(events) {
  const open = new Map();
  const bars = [];
  for (const event of events) {
    const name = event.event;
    const failed = event.error || /\.error$/.test(name);
    if (name.endsWith(".start")) {
      const operation = name.slice(0, -".start".length);
      if (!open.has(operation)) open.set(operation, []);
      open.get(operation).push(event);
    } else if (name.endsWith(".end") || failed) {
      const operation = name.replace(/\.(end|error)$/, "");
      const start = (open.get(operation) || []).shift();
      bars.push({ operation, start: start ? start.time : event.time, end: event.time, failed, open: false });
    }
  }
  for (const [operation, starts] of open) {
    for (const start of starts) bars.push({ operation, start: start.time, end: null, failed: false, open: true });
  }
  return bars.sort((a, b) => a.start - b.start);
}

function timeline(bars) {
  if (!bars.length) return message("No timed operations.");
  const first = Math.min(...bars.map((bar) => bar.start));
  const last = Math.max(...bars.map((bar) => bar.end ?? bar.start));
  const span = Math.max(1, last - first);
  return el("div", { class: "timeline", id: "timeline" }, bars.map((bar) => {
    const left = ((bar.start - first) / span) * 100;
    const right = bar.end === null ? 100 : ((bar.end - first) / span) * 100;
    const seconds = bar.end === null ? "no end" : `${((bar.end - bar.start) / 1000).toFixed(2)} s`;
    const kind = bar.failed ? "failed" : bar.open ? "open" : "done";
    return el("div", { class: "lane", "data-kind": kind },
      el("span", { class: "label", title: bar.operation }, bar.operation),
      el("span", { class: "track" }, el("span", {
        class: `bar ${bar.failed ? "failed" : ""} ${bar.open ? "open" : ""}`,
        style: `left:${left.toFixed(2)}%;width:${Math.max(0.3, right - left).toFixed(2)}%`,
        title: `${bar.operation}: ${seconds}${bar.failed ? " (failed)" : ""}`,
      })));
  }));
}

/** Instance and request: an instance's events, timeline and usage; a request's, tenant's or host's events. */
views.instance = async (main) => {
  const field = param("field", "instance");
  const value = param("value").trim();
  main.append(el("h1", {}, "Instance and request"), filters([
    ["field", "Search by", select("field", [["instance", "instance uuid"], ["request_id", "request id"], ["tenant", "tenant"], ["host", "host"]], field)],
    ["value", "Value", el("input", { name: "value", value, size: 40, placeholder: "uuid, req-…, tenant or host" })],
  ], "Search"));
  if (!value) { main.append(message("Enter an instance uuid, a request id, a tenant or a host.")); ready(); return; }
  const labels = { instance: "Instance", request_id: "Request", tenant: "Tenant", host: "Host" };
  main.append(el("p", { id: "subject" }, el("strong", {}, labels[field] || field), " ", el("code", {}, value)));
  const eventsBox = el("div", { id: "events" });
  const rowClass = (row) => (row[1] === "E" ? "error" : null);
  const cell = (name, cellValue) => (name === "#" ? showLink(cellValue) : cellValue);
  if (field === "instance") {
    const timelineBox = el("div", { id: "instance-timeline" });
    const usageBox = el("div", { id: "usage" });
    main.append(el("h2", {}, "Timeline"), timelineBox, el("h2", {}, "Events"), eventsBox, el("h2", {}, "Usage"), usageBox);
    const events = api(`/stacky/uuid?uuid=${encodeURIComponent(value)}&limit=1000`);
    await Promise.all([
      section(eventsBox, async () => stackyTable(await events, { empty: "No events for this instance.", cell, rowClass })),
      section(timelineBox, async () => {
        const rows = (await events).slice(1);
        return timeline(timelineBars(rows.map((row) => ({ event: row[4], time: stackyTime(row[2]), error: row[1] === "E" }))));
      }),
      section(usageBox, async () => {
        const [launches, deletes, exists] = await Promise.all(["launches", "deletes", "exists"].map((kind) =>
          api(`/stacky/usage/${kind}?instance=${encodeURIComponent(value)}`)));
        return [el("h3", {}, "Launches"), stackyTable(launches, { empty: "No launches." }),
          el("h3", {}, "Deletes"), stackyTable(deletes, { empty: "No deletes." }),
          el("h3", {}, "Exists"), stackyTable(exists, { empty: "No exists records." })];
      }),
    ]);
  } else {
    main.append(el("h2", {}, "Events"), eventsBox);
    const path = field === "request_id"
      ? `/stacky/request?request_id=${encodeURIComponent(value)}&limit=1000`
      : `/stacky/search?field=${field}&value=${encodeURIComponent(value)}&limit=200`;
    await section(eventsBox, async () => stackyTable(await api(path), { empty: "No events match.", cell, rowClass }));
  }
  ready();
};

/** Timings: the summary per operation, one operation's histogram, KPIs. */
views.timings = async (main) => {
  const hours = param("hours", "");
  const operation = param("operation");
  const tenant = param("tenant");
  main.append(el("h1", {}, "Timings"), filters([
    ["hours", "Window", select("hours", [["", "all time"], ["1", "last hour"], ["24", "last 24 hours"], ["168", "last 7 days"]], hours)],
    ["operation", "Histogram of", el("input", { name: "operation", value: operation, placeholder: "compute.instance.create", size: 30 })],
    ["tenant", "KPIs of tenant", el("input", { name: "tenant", value: tenant, placeholder: "every tenant" })],
  ]));
  const windowQuery = hours ? `&when_min=${Math.floor(Date.now() / 1000) - Number(hours) * 3600}&when_max=${Math.ceil(Date.now() / 1000)}` : "";
  const summaryBox = el("div", { id: "summary" });
  const histogramBox = el("div", { id: "histogram" });
  const kpiBox = el("div", { id: "kpi" });
  main.append(el("h2", {}, "Summary"), summaryBox);
  if (operation) main.append(el("h2", {}, `Durations of ${operation}`), histogramBox);
  main.append(el("h2", {}, tenant ? `KPIs of ${tenant}` : "KPIs (requests of the last 24 hours)"), kpiBox);
  const link = (name) => {
    const target = new URLSearchParams(query);
    target.set("operation", name);
    return el("a", { href: `?${target}` }, name);
  };
  await Promise.all([
    section(summaryBox, async () => stackyTable(await api(`/stacky/summary?percentiles=50,95,99${windowQuery}`), {
      empty: "No complete timings in this window.", cell: (name, value) => (name === "Event" ? link(value) : value),
    })),
    operation && section(histogramBox, async () => {
      let durations = [];
      for (let offset = 0; offset < 5000; offset += 1000) {
        const rows = await api(`/stacky/timings?name=${encodeURIComponent(operation)}&limit=1000&offset=${offset}`);
        durations = durations.concat(rows.slice(1).map((row) => durationSeconds(row[1])));
        if (rows.length < 1001) break;
      }
      durations = durations.filter(Number.isFinite);
      if (!durations.length) return message("No complete timings of this operation.");
      const max = Math.max(...durations), min = Math.min(...durations);
      const buckets = Math.min(30, Math.max(5, Math.ceil(Math.sqrt(durations.length))));
      const width = (max - min) / buckets || 1;
      const counts = new Array(buckets).fill(0);
      for (const seconds of durations) counts[Math.min(buckets - 1, Math.floor((seconds - min) / width))] += 1;
      const xs = counts.map((_, index) => Number((min + (index + 0.5) * width).toFixed(3)));
      return [el("p", { class: "muted", id: "histogram-count" }, `${durations.length} timings, ${min.toFixed(2)} s to ${max.toFixed(2)} s`),
        chart("timings per duration (seconds)", xs, [["timings", counts]], { bars: true })];
    }),
    section(kpiBox, async () => stackyTable(await api(tenant ? `/stacky/kpi/${encodeURIComponent(tenant)}` : "/stacky/kpi"), { empty: "No finished requests." })),
  ]);
  ready();
};

const crashQuery = (extra) => new URLSearchParams({ product: param("product"), version: param("version"), ...extra });

/** Crashes: top crashers of a product version with rank change, OS split and daily sparkline. */
views.crashes = async (main) => {
  const versions = await api("/products/versions").catch(() => ({ hits: [] }));
  const hits = versions.hits || [];
  const products = [...new Set(hits.map((hit) => hit.product))].sort();
  const product = param("product", products[0] || "");
  const productVersions = hits.filter((hit) => hit.product === product).map((hit) => hit.version);
  const version = param("version", productVersions[0] || "");
  const duration = param("duration", "168");
  main.append(el("h1", {}, "Top crashers"), filters([
    ["product", "Product", select("product", products.map((name) => [name, name]), product)],
    ["version", "Version", el("input", { name: "version", value: version, list: "versions", size: 12 })],
    ["duration", "Period", select("duration", [["24", "1 day"], ["72", "3 days"], ["168", "7 days"], ["336", "14 days"], ["720", "30 days"]], duration)],
  ]), el("datalist", { id: "versions" }, productVersions.map((name) => el("option", { value: name }))));
  const box = el("div", { id: "top-crashers" });
  main.append(box);
  if (!product || !version) { box.append(message("No product versions known yet.")); ready(); return; }
  await section(box, async () => {
    const top = await api(`/crashes/signatures?${new URLSearchParams({ product, version, duration })}`);
    const rows = top.crashes || [];
    if (!rows.length) return message("No crashes of this version in the period.");
    // One count per signature for each of the last seven days.
    const today = new Date(); today.setUTCHours(0, 0, 0, 0);
    const days = [...Array(7).keys()].map((back) => new Date(today.getTime() - (5 - back) * 86400000));
    const daily = await Promise.all(days.map((end) => api(`/crashes/signatures?${new URLSearchParams({
      product, version, duration: "24", end_date: end.toISOString().slice(0, 10) })}`).then((answer) =>
      new Map((answer.crashes || []).map((row) => [row.signature, row.count])))));
    const signatureLink = (row) => el("a", { href: `/ui/signature?${new URLSearchParams({ signature: row.signature, product, version })}` }, row.signature);
    const change = (row) => row.changeInRank === "new" ? el("span", { class: "new" }, "new")
      : row.changeInRank > 0 ? el("span", { class: "up" }, `▲ ${row.changeInRank}`)
      : row.changeInRank < 0 ? el("span", { class: "down" }, `▼ ${-row.changeInRank}`) : "–";
    const split = (row) => {
      const total = Math.max(1, row.win_count + row.mac_count + row.linux_count);
      return el("span", { class: "split", title: `Windows ${row.win_count}, Mac ${row.mac_count}, Linux ${row.linux_count}` },
        el("span", { class: "win", style: `width:${(100 * row.win_count) / total}%` }),
        el("span", { class: "mac", style: `width:${(100 * row.mac_count) / total}%` }),
        el("span", { class: "lin", style: `width:${(100 * row.linux_count) / total}%` }));
    };
    const percent = (value) => (typeof value === "number" ? `${(value * 100).toFixed(2)} %` : value);
    return [el("p", { class: "muted", id: "crash-total" }, `${top.totalNumberOfCrashes} crashes, ${rows.length} signatures, ${top.start_date} to ${top.end_date}`),
      objectTable(rows, [
        ["Rank", (row) => row.currentRank + 1],
        ["Change", change],
        ["Signature", signatureLink],
        ["Count", (row) => row.count],
        ["% of total", (row) => percent(row.percentOfTotal)],
        ["Δ %", (row) => (typeof row.changeInPercentOfTotal === "number" ? percent(row.changeInPercentOfTotal) : row.changeInPercentOfTotal)],
        ["Win / Mac / Linux", split],
        ["Win", (row) => row.win_count], ["Mac", (row) => row.mac_count], ["Linux", (row) => row.linux_count],
        ["Hangs", (row) => row.hang_count],
        ["Last 7 days", (row) => sparkline(daily.map((counts) => counts.get(row.signature) || 0))],
      ])];
  });
  ready();
};

/** A signature: its reports, comments and paired hang reports. */
views.signature = async (main) => {
  const signature = param("signature");
  main.append(el("h1", {}, "Signature"), filters([
    ["signature", "Signature", el("input", { name: "signature", value: signature, size: 50 })],
    ["product", "Product", el("input", { name: "product", value: param("product") })],
    ["version", "Version", el("input", { name: "version", value: param("version") })],
  ]));
  const token = el("input", { type: "password", id: "read-token", placeholder: "read token", value: readToken() });
  main.append(el("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    sessionStorage.setItem("tach-read-token", token.value);
    location.reload();
  } }, el("label", {}, "Protected fields (email, url, comments) need the read token", token),
  el("button", { type: "submit", class: "secondary" }, "Use for this session")));
  if (!signature) { main.append(message("Enter a signature.")); ready(); return; }
  const reportsBox = el("div", { id: "reports" });
  const commentsBox = el("div", { id: "comments" });
  const pairsBox = el("div", { id: "pairs" });
  main.append(el("h2", {}, "Reports"), reportsBox, el("h2", {}, "Comments"), commentsBox, el("h2", {}, "Paired hang reports"), pairsBox);
  const filter = { signature };
  if (param("product")) filter.products = param("product");
  if (param("version")) filter.versions = `${param("product")}:${param("version")}`;
  const reports = api(`/report/list?${new URLSearchParams({ ...filter, result_number: "200" })}`, { protectedFields: true });
  await Promise.all([
    section(reportsBox, async () => {
      const answer = await reports;
      return [el("p", { class: "muted", id: "report-total" }, `${answer.total} reports`),
        objectTable(answer.hits || [], [
          ["uuid", (hit) => hit.uuid], ["date", (hit) => hit.date_processed], ["product", (hit) => hit.product],
          ["version", (hit) => hit.version], ["os", (hit) => hit.os_name], ["build", (hit) => hit.build],
          ["hang", (hit) => hit.hangid || ""], ["url", (hit) => hit.url ?? "(hidden)"],
        ], { empty: "No reports." })];
    }),
    section(commentsBox, async () => {
      const answer = await api(`/crashes/comments?${new URLSearchParams({ signature })}`, { protectedFields: true });
      return objectTable(answer.hits || [], [
        ["date", (hit) => hit.date_processed], ["uuid", (hit) => hit.uuid],
        ["email", (hit) => hit.email ?? "(hidden)"], ["comment", (hit) => hit.user_comments ?? "(hidden)"],
      ], { empty: "No comments." });
    }),
    section(pairsBox, async () => {
      const hung = ((await reports).hits || []).filter((hit) => hit.hangid).slice(0, 20);
      const pairs = await Promise.all(hung.map((hit) => api(`/crashes/paireduuid?${new URLSearchParams({ uuid: hit.uuid, hangid: hit.hangid })}`)
        .then((answer) => (answer.hits || []).map((pair) => ({ uuid: hit.uuid, hangid: hit.hangid, paired: pair.uuid })))));
      return objectTable(pairs.flat(), [["report", (pair) => pair.uuid], ["hang id", (pair) => pair.hangid], ["paired with", (pair) => pair.paired]],
        { empty: "No paired hang reports." });
    }),
  ]);
  ready();
};

/** Releases: status, duration and packages as a timeline. */
views.releases = async (main) => {
  const status = param("status");
  main.append(el("h1", {}, "Releases"), filters([
    ["status", "Status", select("status", [["", "any"], ["SUCCESSFUL", "successful"], ["FAILED", "failed"], ["IN_PROGRESS", "in progress"], ["NOT_STARTED", "not started"]], status)],
    ["user", "User", null], ["platform", "Platform", null],
  ]));
  const box = el("div", { id: "releases" });
  main.append(box);
  await section(box, async () => {
    const search = new URLSearchParams({ limit: "100" });
    for (const name of ["status", "user", "platform"]) if (param(name)) search.set(name, param(name));
    const { releases } = await api(`/releases?${search}`);
    if (!releases.length) return message("No releases match.");
    return [el("p", { class: "muted", id: "release-count" }, `${releases.length} releases`), el("div", { class: "cards" }, releases.map((release) => {
      const start = Date.parse(release.stime);
      const bars = release.packages.filter((pkg) => pkg.stime).map((pkg) => ({
        operation: `${pkg.name} ${pkg.version}${pkg.rollback ? " (rollback)" : ""}`,
        start: Date.parse(pkg.stime), end: pkg.ftime ? Date.parse(pkg.ftime) : null,
        failed: pkg.status === "FAILED", open: !pkg.ftime,
      }));
      return el("div", { class: "card", "data-release": release.id },
        el("div", {}, el("span", { class: `status ${release.status}` }, release.status), " ",
          el("strong", {}, (release.platforms || []).join(", ") || "release"), " ",
          el("span", { class: "muted" }, `by ${release.user}${release.team ? ` (${release.team})` : ""}`)),
        el("div", { class: "muted" }, `${release.stime || "not started"} · ${release.duration === null ? "running" : `${release.duration} s`}`),
        objectTable(release.packages, [["package", (pkg) => pkg.name], ["version", (pkg) => pkg.version],
          ["status", (pkg) => el("span", { class: `status ${pkg.status}` }, pkg.status)], ["duration", (pkg) => pkg.duration ?? ""]],
        { empty: "No packages." }),
        Number.isFinite(start) && bars.length ? timeline(bars) : null);
    }))];
  });
  ready();
};

/** Environments: deployed revisions and status samples from plotData. */
views.environments = async (main) => {
  main.append(el("h1", {}, "Environments"));
  const box = el("div", { id: "environments" });
  main.append(box);
  await section(box, async () => {
    const environments = await api("/environments");
    const names = Object.keys(environments).sort();
    if (!names.length) return message("No environment has reported yet.");
    return el("div", { class: "cards" }, names.map((name) => {
      const environment = environments[name];
      const revisions = Object.entries(environment).filter(([key]) => key.endsWith("Revision"));
      const plot = environment.plotData || {};
      const series = Object.entries(plot).filter(([key, points]) => key !== "xaxis_ticks" && Array.isArray(points) && points.length);
      const card = el("div", { class: "card", "data-environment": name }, el("h2", {}, name),
        objectTable(revisions, [["component", ([key]) => key.replace(/Revision$/, "")], ["revision", ([, value]) => value]], { empty: "No deploy yet." }),
        el("p", { class: "muted" }, `${(environment.data || []).length} status samples`));
      if (series.length) {
        const xs = series[0][1].map(([x]) => x);
        card.append(chart("status samples (x counts down from the newest)", xs, series.map(([key, points]) => [key, points.map(([, y]) => y)]), { width: 380, height: 180 }));
      } else {
        card.append(message("No status samples in the last 7 days."));
      }
      return card;
    }));
  });
  ready();
};

// ---- start ---------------------------------------------------------------

const main = document.getElementById("page");
const page = main.dataset.page;
document.querySelectorAll("nav a").forEach((link) => link.classList.toggle("current",
  link.dataset.nav === page || (page === "signature" && link.dataset.nav === "crashes")));
document.title = `tach · ${page}`;
(views[page] || (async (box) => { box.append(message(`No view ${page}.`, "error")); ready(); }))(main)
  .catch((error) => { main.append(message(String(error.message || error), "error")); ready(); });
