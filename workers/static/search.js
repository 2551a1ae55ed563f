// The newsflow search page. The address holds the whole search (?q=...&site=...&language=...
// &since=...&until=...&sort=date&all=1&cursor=...&page=2), so a shared link or a reload shows the same page;
// every change goes through go(), which writes the address first and then searches.
"use strict";

const FILTERS = ["site", "language", "since", "until"];
const PARAMS = ["q", ...FILTERS, "sort", "all", "cursor", "page"];
const PAGE_SIZE = 10;
const MAX_DAYS = 120; // a longer span is drawn by month
const MIN_DAYS = 14; // a shorter one is widened, so a single day still reads as a day
const MAX_BAR = 64; // pixels
const DAY = 86400000;

const form = document.getElementById("search");
const $ = (id) => document.getElementById(id);
const languageNames = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(["en"], { type: "language" }) : null;
const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const dayFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const LABEL_WIDTH = 56; // pixels an axis label needs
let current = {};
let lastAnswer = null;
let requestNo = 0;

// -- the address ------------------------------------------------------------------------------

function stateFromAddress() {
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const key of PARAMS) {
    const value = params.get(key);
    if (value) state[key] = value;
  }
  return state;
}

function addressOf(state) {
  const params = new URLSearchParams();
  for (const key of PARAMS) if (state[key]) params.set(key, state[key]);
  const query = params.toString();
  return query ? `?${query}` : location.pathname;
}

function go(state, { paged = false } = {}) {
  const clean = Object.fromEntries(Object.entries(state).filter(([, v]) => v));
  history.pushState({ paged }, "", addressOf(clean));
  run(clean);
}

function without(state, ...keys) {
  const copy = { ...state };
  for (const key of keys) delete copy[key];
  return copy;
}

// -- searching --------------------------------------------------------------------------------

async function run(state) {
  current = state;
  fillForm(state);
  const mine = ++requestNo;
  const params = new URLSearchParams({ ...without(state, "cursor", "page"), limit: String(PAGE_SIZE) });
  if (state.cursor) params.set("cursor", state.cursor);
  document.body.classList.add("loading");
  let answer;
  let failure = null;
  try {
    const resp = await fetch(`/api/search?${params}`);
    answer = await resp.json();
    if (!resp.ok) failure = answer.error || `HTTP ${resp.status}`;
  } catch (err) {
    failure = `the search service did not answer (${err.message}); try again`;
  }
  if (mine !== requestNo) return; // a newer search started meanwhile
  document.body.classList.remove("loading");
  if (failure) return showError(failure);
  lastAnswer = answer;
  render(state, answer);
}

function fillForm(state) {
  form.elements.q.value = state.q || "";
  form.elements.since.value = state.since || "";
  form.elements.until.value = state.until || "";
  form.elements.sort.value = state.sort || "";
  form.elements.all.checked = state.all === "1";
  document.title = state.q ? `${state.q} · newsflow` : "newsflow search";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const f = form.elements;
  go({
    ...without(current, "cursor", "page"),
    q: f.q.value.trim(),
    since: f.since.value,
    until: f.until.value,
    sort: f.sort.value,
    all: f.all.checked ? "1" : "",
  });
});
window.addEventListener("popstate", () => run(stateFromAddress()));
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => lastAnswer && drawTimeline(lastAnswer.facets.published || {}, current), 150);
});

// -- drawing ----------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

function render(state, answer) {
  drawFilters(state);
  drawSummary(state, answer);
  drawFacets(state, answer.facets || {});
  drawTimeline(answer.facets.published || {}, state);
  drawResults(state, answer);
  drawPager(state, answer);
}

function showError(message) {
  $("summary").textContent = "";
  $("results").replaceChildren(el("li", { class: "error" }, message));
  $("pager").replaceChildren();
}

function languageName(code) {
  try {
    const name = languageNames && languageNames.of(code);
    return name && name !== code ? name : code;
  } catch {
    return code;
  }
}

function drawFilters(state) {
  const chips = [];
  const labels = { site: "site", language: "language", since: "from", until: "before" };
  for (const key of FILTERS) {
    if (!state[key]) continue;
    const shown = key === "language" ? languageName(state[key]) : state[key];
    chips.push(
      el(
        "button",
        { class: "chip", type: "button", title: "Remove this filter", onclick: () => go(without(state, key, "cursor", "page")) },
        `${labels[key]}: `,
        el("b", {}, shown),
        el("span", { class: "x", "aria-hidden": "true" }, "×"),
      ),
    );
  }
  $("filters").replaceChildren(...chips);
}

function drawSummary(state, answer) {
  const noun = state.all === "1" ? "article" : "story";
  const plural = answer.total === 1 ? noun : noun === "story" ? "stories" : "articles";
  const parts = [el("strong", {}, answer.total.toLocaleString("en")), ` ${plural}`];
  if (state.q) parts.push(" for ", el("strong", {}, `“${state.q}”`));
  if (state.all !== "1") parts.push(" · copies of one story count once");
  $("summary").replaceChildren(...parts);
}

function drawFacets(state, facets) {
  const groups = [
    ["site", "Sites", (key) => key],
    ["language", "Languages", languageName],
  ];
  const sections = [];
  for (const [field, title, label] of groups) {
    const counts = Object.entries(facets[field] || {});
    if (!counts.length) continue;
    const top = Math.max(...counts.map(([, n]) => n));
    const items = counts.map(([key, n]) => {
      const active = state[field] === key;
      const next = active ? without(state, field, "cursor", "page") : { ...without(state, "cursor", "page"), [field]: key };
      return el(
        "li",
        {},
        el(
          "button",
          { class: "facet", type: "button", "aria-pressed": String(active), "data-field": field, "data-value": key, onclick: () => go(next) },
          el("span", { class: "name", title: key }, label(key)),
          el("span", { class: "count" }, n.toLocaleString("en")),
          el("span", { class: "bar", style: `width:${Math.max(4, (100 * n) / top)}%` }),
        ),
      );
    });
    sections.push(el("section", {}, el("h2", {}, title), el("ul", {}, ...items)));
  }
  $("facets").replaceChildren(...sections);
}

function isoDay(time) {
  return new Date(time).toISOString().slice(0, 10);
}

function timelineBuckets(counts) {
  const days = Object.keys(counts).sort();
  if (!days.length) return [];
  const last = Date.parse(`${days[days.length - 1]}T00:00:00Z`);
  const first = Math.min(Date.parse(`${days[0]}T00:00:00Z`), last - (MIN_DAYS - 1) * DAY);
  const buckets = [];
  if ((last - first) / DAY + 1 <= MAX_DAYS) {
    for (let t = first; t <= last; t += DAY) {
      const day = isoDay(t);
      buckets.push({ label: dayFormat.format(t), title: dateFormat.format(t), since: day, until: isoDay(t + DAY), n: counts[day] || 0 });
    }
    return buckets;
  }
  const byMonth = new Map();
  for (const [day, n] of Object.entries(counts)) byMonth.set(day.slice(0, 7), (byMonth.get(day.slice(0, 7)) || 0) + n);
  const start = new Date(first);
  for (let y = start.getUTCFullYear(), m = start.getUTCMonth(); Date.UTC(y, m, 1) <= last; m === 11 ? ((m = 0), y++) : m++) {
    const month = `${y}-${String(m + 1).padStart(2, "0")}`;
    const until = m === 11 ? `${y + 1}-01-01` : `${y}-${String(m + 2).padStart(2, "0")}-01`;
    buckets.push({ label: month, title: month, since: `${month}-01`, until, n: byMonth.get(month) || 0 });
  }
  return buckets;
}

function drawTimeline(counts, state) {
  const chart = $("timeline");
  const buckets = timelineBuckets(counts);
  chart.closest("figure").hidden = buckets.length === 0;
  chart.replaceChildren();
  if (!buckets.length) return;
  const width = chart.clientWidth || 640;
  const height = chart.clientHeight || 140;
  const left = 30, right = 6, top = 10, bottom = 22;
  const plotW = width - left - right, plotH = height - top - bottom;
  const most = Math.max(1, ...buckets.map((b) => b.n));
  const step = Math.min(plotW / buckets.length, MAX_BAR);
  const gap = Math.min(4, step * 0.25);
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("aria-label", `Matching stories per ${buckets.length > 0 && buckets[0].label.length === 7 ? "month" : "day"}, ${buckets.length} bars`);
  chart.append(
    svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH + 0.5, y2: top + plotH + 0.5 }),
    svg("text", { x: left - 6, y: top + 8, "text-anchor": "end" }, String(most)),
    svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"),
  );
  const every = Math.max(1, Math.ceil(LABEL_WIDTH / step));
  buckets.forEach((b, i) => {
    const h = b.n ? Math.max(2, (plotH * b.n) / most) : 2;
    const x = left + i * step + gap / 2;
    const bar = svg(
      "rect",
      { class: b.n ? "bar" : "bar zero", x: x.toFixed(1), y: (top + plotH - h).toFixed(1), width: Math.max(1, step - gap).toFixed(1), height: h.toFixed(1), "data-day": b.since, "data-count": b.n },
      svg("title", {}, `${b.title}: ${b.n} ${b.n === 1 ? "story" : "stories"}`),
    );
    bar.addEventListener("click", () => go({ ...without(state, "cursor", "page"), since: b.since, until: b.until }));
    chart.append(bar);
    // Labels centred under their bar, every few bars: the last one counted back from the end.
    if ((buckets.length - 1 - i) % every === 0) {
      chart.append(svg("text", { x: (x + (step - gap) / 2).toFixed(1), y: height - 6, "text-anchor": "middle" }, b.label));
    }
  });
}

function fold(text) {
  return text.replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

function highlighted(text, query) {
  const words = /[\p{L}\p{N}_]+/gu;
  // The words to find: not those left out (-word), site:/lang: filters or OR (pipeline/search/query.py).
  const wanted = query.replace(/(^|\s)-("[^"]*"?|\S+)/g, " ").replace(/(^|\s)(site|lang|language):\S+/gi, " ").replace(/\bOR\b/g, " ");
  const terms = new Set((wanted.match(words) || []).map(fold));
  const out = document.createDocumentFragment();
  let last = 0;
  if (terms.size) {
    for (const m of text.matchAll(words)) {
      if (!terms.has(fold(m[0]))) continue;
      out.append(text.slice(last, m.index), el("mark", {}, m[0]));
      last = m.index + m[0].length;
    }
  }
  out.append(text.slice(last));
  return out;
}

function metaLine(hit) {
  const parts = [el("span", { class: "site" }, hit.site)];
  if (hit.published_at) parts.push(el("time", { dateTime: hit.published_at }, dateFormat.format(new Date(hit.published_at))));
  if (hit.language) parts.push(el("span", { class: "lang", title: languageName(hit.language) }, hit.language));
  return el("div", { class: "meta" }, ...parts);
}

function drawResults(state, answer) {
  if (!answer.hits.length) {
    const hint = Object.keys(without(state, "q", "cursor", "page", "all")).length ? " Remove a filter to widen the search." : "";
    $("results").replaceChildren(el("li", { class: "empty" }, `Nothing matches.${hint}`));
    return;
  }
  $("results").replaceChildren(...answer.hits.map((hit) => drawHit(state, hit)));
}

function drawHit(state, hit) {
  const snippet = el("p", { class: "snippet" });
  snippet.innerHTML = hit.snippet; // escaped by the server; only <mark> is markup
  const item = el(
    "li",
    { class: "hit", "data-id": hit.id },
    el("h3", {}, el("a", { href: hit.url, rel: "noopener" }, highlighted(hit.title || hit.url, state.q || ""))),
    metaLine(hit),
    snippet,
  );
  if (hit.cluster_size > 1) {
    const others = hit.cluster_size - 1;
    const button = el("button", { class: "dups", type: "button", "aria-expanded": "false" }, `+${others} duplicate${others === 1 ? "" : "s"}`);
    button.addEventListener("click", () => toggleCopies(state, hit, item, button));
    item.append(button);
  }
  return item;
}

async function toggleCopies(state, hit, item, button) {
  const open = item.querySelector(".copies");
  if (open) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const params = new URLSearchParams({ ...without(state, "cursor", "page", "all"), cluster: hit.cluster_id || hit.id, all: "1", limit: "100" });
  const list = el("ul", { class: "copies" }, el("li", {}, "Loading…"));
  item.append(list);
  button.setAttribute("aria-expanded", "true");
  try {
    const resp = await fetch(`/api/search?${params}`);
    const answer = await resp.json();
    if (!resp.ok) throw new Error(answer.error);
    const copies = answer.hits.filter((h) => h.id !== hit.id);
    list.replaceChildren(
      ...copies.map((copy) => el("li", {}, el("a", { href: copy.url, rel: "noopener" }, copy.title || copy.url), metaLine(copy))),
    );
  } catch (err) {
    list.replaceChildren(el("li", { class: "error" }, `Could not list the copies: ${err.message}`));
  }
}

function drawPager(state, answer) {
  const page = Number(state.page) || 1;
  const pages = Math.max(1, Math.ceil(answer.total / PAGE_SIZE));
  const back = [];
  if (state.cursor) {
    if (history.state && history.state.paged) back.push(el("button", { type: "button", onclick: () => history.back() }, "← Previous"));
    back.push(el("button", { type: "button", onclick: () => go(without(state, "cursor", "page")) }, "First page"));
  }
  const more = answer.next_cursor && page < pages;
  const next = more
    ? el("button", { type: "button", rel: "next", onclick: () => go({ ...state, cursor: JSON.stringify(answer.next_cursor), page: String(page + 1) }, { paged: true }) }, "Next page →")
    : el("span");
  const where = pages > 1 ? el("span", { class: "where" }, `Page ${Math.min(page, pages)} of ${pages}`) : el("span");
  $("pager").replaceChildren(el("span", { class: "back" }, ...back), where, next);
}

run(stateFromAddress());
