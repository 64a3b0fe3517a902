// ganforge explore: plain JS and canvas, no library and no request off this server.
"use strict";

const $ = (id) => document.getElementById(id);
const gf = (window.gf = { runs: [], seeds: [], locked: new Set(), grid: null, live: null, busy: 0, panels: [] });
const CELL = 72; // grid cell: image area, in CSS pixels
const LABEL = 14; // seed label under each image

function showError(message) { $("error").textContent = message || ""; }
// every async handler ends in .catch(failed): a refused request (the server's one line) is shown, never an
// uncaught page error
function failed(e) { showError(e && e.message ? e.message : String(e)); }
// The line is cleared when the user starts something new (a changed control, a button or image clicked),
// before that action's handlers run, and never by a request that succeeds: one action starts several
// panels' requests at once, and the one refused is not always the last to come back.
document.addEventListener("change", () => showError(""), true);
document.addEventListener("click", (e) => { if (e.target.closest("button, canvas")) showError(""); }, true);

async function getJSON(url, options) {
  gf.busy++;
  try {
    const r = await fetch(url, options);
    let body;
    try { body = await r.json(); } catch (e) { throw new Error(`${url.split("?")[0]}: ${r.status} ${r.statusText}, not JSON`); }
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  } finally { gf.busy--; }
}

function decode(b64, shape) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const [c, h, w] = shape;
  const img = new ImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const r = bytes[p], g = c === 3 ? bytes[h * w + p] : r, b = c === 3 ? bytes[2 * h * w + p] : r;
    img.data.set([r, g, b, 255], 4 * p);
  }
  return img;
}

function drawImage(ctx, imageData, x, y, size) {
  const tmp = document.createElement("canvas");
  tmp.width = imageData.width; tmp.height = imageData.height;
  tmp.getContext("2d").putImageData(imageData, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, x, y, size, size);
}

function run() { return gf.runs[Number($("run").value)]; }
function can(name) { const r = run(); return !!r && (r.capabilities || []).includes(name); }
const generates = () => can("generate") && !can("toy2d"); // images from seeds: grid, interpolation, plane, nearest

// Seeds go up to 2^63-1 on the server, but a JS number holds integers exactly only up to 2^53-1: past it,
// 2^53+1 reads as 2^53 and seed + 1 is seed again. So a seed box is held at 2^53-1 (the box says what is
// drawn), compared as a BigInt so that the check itself loses nothing; anything else is left for the
// server's own line.
const SEED_MAX = Number.MAX_SAFE_INTEGER;
const FIRST_SEED_MAX = SEED_MAX - 128; // the grid counts on from its first seed: room for 64 images and 64 locked
function capSeed(text, most = SEED_MAX) {
  const t = String(text).trim();
  return /^\d+$/.test(t) && BigInt(t) > BigInt(most) ? String(most) : t;
}
function seedBox(id, fallback, most = SEED_MAX) {
  const el = $(id), capped = capSeed(el.value, most);
  if (capped !== el.value) el.value = capped;
  return capped === "" ? String(fallback) : capped;
}
function seedList(id) { // "0,1,2": each seed held as one box is
  const el = $(id), capped = el.value.split(",").map((t) => capSeed(t)).join(",");
  if (capped !== el.value.replace(/\s/g, "")) el.value = capped;
  return capped;
}

function query(extra) {
  const q = new URLSearchParams(extra);
  if ($("ckpt").value) q.set("checkpoint", $("ckpt").value);
  const t = Number($("trunc").value);
  if (can("truncation") && t < 3) q.set("truncation", t.toFixed(2));
  if (t < 3 && run().truncation_centres && $("centres").checked) q.set("centres", String(run().truncation_centres));
  if (can("classes") && $("class").value !== "") q.set("class", $("class").value);
  return q.toString();
}

// ---- run and checkpoint pickers -------------------------------------------------------------
async function loadRuns() {
  const body = await getJSON("/api/runs");
  gf.runs = body.runs;
  $("run").innerHTML = gf.runs.map((r) => `<option value="${r.id}">${r.id}: ${r.name}</option>`).join("");
  if (gf.runs.length) await pickRun();
  else { // the live view alone: no run panel shows empty with controls that ask for nothing
    $("runinfo").textContent = "no runs given: the live 2D view only";
    ["runbox", "ckptbox", "panel-grid", "panel-interp", "panel-plane", "panel-nearest", "panel-curves"]
      .forEach((id) => { $(id).hidden = true; });
  }
}

async function pickRun() {
  const r = run();
  // a checkpoint the server passed over as damaged is marked, and the one it opened is selected: every panel
  // asks for the picked one, so picking the newest would have each of them refused
  const skipped = r.skipped || {};
  $("ckpt").innerHTML = r.checkpoints.map((c) => `<option value="${c}"${skipped[c] ? ` title="${skipped[c].replace(/"/g, "&quot;")}"` : ""}>` +
    `${c}${skipped[c] ? " (damaged: skipped)" : ""}</option>`).join("");
  const steps = r.checkpoints.filter((c) => c !== "best");
  if (r.opened) $("ckpt").value = r.opened;
  else if (steps.length) $("ckpt").value = steps[steps.length - 1];
  $("runinfo").textContent = r.error ? r.error // a checkpoint that no longer opens: its line, the others still work
    : `${r.recipe || ""} · step ${r.step ?? "?"} · can ${(r.capabilities || []).join(", ")}`;
  $("classbox").hidden = !can("classes");
  $("truncbox").hidden = !can("truncation"); // an image-to-image or upscaling run takes none
  $("centresbox").hidden = !r.truncation_centres; // only where the explorer fitted centres for this run
  $("centresk").textContent = r.truncation_centres || "";
  $("class").innerHTML = '<option value="">any</option>' +
    Array.from({ length: r.num_classes || 0 }, (_, i) => `<option>${i}</option>`).join("");
  gf.locked.clear();
  gf.seeds = [];
  // a run listed with its error (a directory gone, no checkpoint that opens) has no curves to ask for: its
  // line is in the header and under the grid, and the last run's curves are cleared
  await Promise.all([drawGrid(), drawInterp(), r.error ? clearCurves() : loadCurves(), ...gf.panels.map((f) => f("run"))]);
}

// ---- the seed grid --------------------------------------------------------------------------
function freshSeeds() {
  const n = Number($("count").value), first = Number(seedBox("seed0", 0, FIRST_SEED_MAX)) || 0;
  const seeds = [];
  let next = first;
  for (let i = 0; i < n; i++) {
    if (gf.locked.has(gf.seeds[i])) { seeds.push(gf.seeds[i]); continue; }
    while (gf.locked.has(next)) next++;
    seeds.push(next++);
  }
  gf.seeds = seeds;
}

async function drawGrid() {
  const canvas = $("grid"), ctx = canvas.getContext("2d");
  const note = $("gridnote");
  // a run that draws no images from seeds gets the note alone: no empty canvas, no controls that ask nothing
  const drawing = generates();
  ["grid", "gridcontrols", "gridhint"].forEach((id) => { $(id).hidden = !drawing; });
  note.hidden = drawing;
  if (!drawing) {
    note.textContent = run() && run().error ? run().error // a run that no longer opens, or whose directory has gone
      : can("toy2d") ? "This run draws 2D points: see the live 2D view." : "This run does not generate from seeds.";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  if (gf.seeds.length !== Number($("count").value)) freshSeeds();
  const body = await getJSON(`/api/runs/${run().id}/samples?` + query({ seeds: gf.seeds.join(",") }));
  const cols = Math.ceil(Math.sqrt(body.images.length)), rows = Math.ceil(body.images.length / cols);
  canvas.width = cols * CELL; canvas.height = rows * (CELL + LABEL);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center";
  body.images.forEach((b64, i) => {
    const x = (i % cols) * CELL, y = Math.floor(i / cols) * (CELL + LABEL);
    drawImage(ctx, decode(b64, body.shape), x + 4, y + 4, CELL - 8);
    const locked = gf.locked.has(body.seeds[i]);
    if (locked) { ctx.strokeStyle = "#e06000"; ctx.lineWidth = 3; ctx.strokeRect(x + 2, y + 2, CELL - 4, CELL - 4); }
    ctx.fillStyle = locked ? "#e06000" : "#444";
    ctx.fillText((locked ? "[" : "") + "seed " + body.seeds[i] + (locked ? "]" : ""), x + CELL / 2, y + CELL + 10);
  });
  gf.grid = { cols, cell: CELL, label: LABEL, inset: 4, seeds: body.seeds, shape: body.shape, query: query({}) };
  canvas.dataset.version = String((Number(canvas.dataset.version) || 0) + 1);
}

$("grid").addEventListener("click", (e) => {
  if (!gf.grid) return;
  const rect = e.target.getBoundingClientRect();
  const col = Math.floor((e.clientX - rect.left) / CELL), row = Math.floor((e.clientY - rect.top) / (CELL + LABEL));
  const seed = gf.grid.seeds[row * gf.grid.cols + col];
  if (seed === undefined) return;
  if (gf.locked.has(seed)) gf.locked.delete(seed); else gf.locked.add(seed);
  $("seedA").value = $("seedB").value; $("seedB").value = seed; // the last two clicked are interpolated
  gf.panels.forEach((f) => f("seed", seed));
  drawGrid().catch(failed); drawInterp().catch(failed);
});

$("reseed").addEventListener("click", () => {
  $("seed0").value = String((Number(seedBox("seed0", 0, FIRST_SEED_MAX)) || 0) + Number($("count").value));
  freshSeeds(); drawGrid().catch(failed);
});
$("count").addEventListener("change", () => { freshSeeds(); drawGrid().catch(failed); });
$("seed0").addEventListener("change", () => { freshSeeds(); drawGrid().catch(failed); });
$("trunc").addEventListener("input", () => {
  const t = Number($("trunc").value);
  $("truncval").textContent = t >= 3 ? "off" : t.toFixed(2);
  $("centres").disabled = t >= 3; // the centres are what psi pulls towards: nothing to do with truncation off
});
function redrawAll() { drawGrid().catch(failed); drawInterp().catch(failed); gf.panels.forEach((f) => f("options")); }
$("trunc").addEventListener("change", redrawAll);
$("class").addEventListener("change", redrawAll);
$("centres").addEventListener("change", redrawAll);
$("run").addEventListener("change", () => pickRun().catch(failed));
$("ckpt").addEventListener("change", redrawAll);

// ---- interpolation --------------------------------------------------------------------------
async function drawInterp() {
  const canvas = $("interp"), ctx = canvas.getContext("2d");
  $("panel-interp").hidden = !generates(); // nothing to interpolate: no empty strip (as the plane's panel)
  if (!generates()) { ctx.clearRect(0, 0, canvas.width, canvas.height); $("interppath").textContent = ""; return; }
  const steps = Math.min(16, Math.max(2, Math.round(Number($("isteps").value)) || 8));
  $("isteps").value = String(steps); // the box says what is drawn: 2..16 steps
  const body = await getJSON(`/api/runs/${run().id}/interpolate?` +
    query({ a: seedBox("seedA", 0), b: seedBox("seedB", 1), steps }));
  const size = Math.min(72, Math.floor(600 / steps));
  canvas.width = size * steps; canvas.height = size;
  body.images.forEach((b64, i) => drawImage(ctx, decode(b64, body.shape), i * size, 0, size));
  $("interppath").textContent = `${body.path} from seed ${body.a} to seed ${body.b}` + heldClass(body);
  gf.interp = { ...body, images: undefined };
  bump(canvas);
}
// what a strip or plane says of its class: labels are not blended, so with no class picked on a conditional
// run the class is seed A's throughout, and B's end is B's own sample only where B draws that class too
function heldClass(body) {
  if (body.class === null || body.class === undefined) return "";
  return body.b_is_sample ? `, class ${body.class} throughout`
    : `, class ${body.class} (seed A's) throughout: seed B's end is seed B's latent in that class, not its own sample (pick a class to hold both)`;
}
function bump(canvas) { canvas.dataset.version = String((Number(canvas.dataset.version) || 0) + 1); }
["seedA", "seedB", "isteps"].forEach((id) => $(id).addEventListener("change", () => drawInterp().catch(failed)));

// ---- curves ---------------------------------------------------------------------------------
function plot(canvas, series, options = {}) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 34;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const pts = series.flatMap((s) => s.points).filter((p) => p[1] !== null && p[1] !== undefined);
  if (!pts.length) return;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = options.y || [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) { x0 -= 1; x1 += 1; } // one step, or one value: the point in the middle, not on the frame
  if (y1 === y0) { const d = Math.abs(y0) / 10 || 1; y0 -= d; y1 += d; }
  const X = (x) => pad + (x - x0) / (x1 - x0) * (W - pad - 8), Y = (y) => H - pad + 8 - (y - y0) / (y1 - y0) * (H - pad - 8);
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.strokeRect(pad, 8, W - pad - 8, H - pad);
  ctx.fillStyle = "#444"; ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(String(+y1.toPrecision(4)), 2, 14); ctx.fillText(String(+y0.toPrecision(4)), 2, H - pad + 8);
  ctx.fillText(`step ${x0}`, pad, H - 12); ctx.fillText(`${x1}`, W - 40, H - 12);
  series.forEach((s, j) => {
    ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.beginPath();
    s.points.filter((p) => p[1] !== null).forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1]))));
    ctx.stroke();
    ctx.fillStyle = s.color;
    const shown = s.points.filter((p) => p[1] !== null && p[1] !== undefined);
    if (shown.length === 1) { ctx.beginPath(); ctx.arc(X(shown[0][0]), Y(shown[0][1]), 3.5, 0, 2 * Math.PI); ctx.fill(); } // a line of one point draws nothing
    ctx.fillText(s.name, pad + 6 + j * 110, H - 2);
  });
}

async function loadCurves() {
  const body = await getJSON(`/api/runs/${run().id}/stats`);
  gf.curves = body.curves;
  const keys = Object.keys(body.curves);
  $("curvekey").innerHTML = keys.map((k) => `<option>${k}</option>`).join("");
  const preferred = keys.find((k) => /^loss_D|^D_loss|loss/.test(k));
  if (preferred) $("curvekey").value = preferred;
  drawCurves();
}
function clearCurves() { gf.curves = {}; $("curvekey").innerHTML = ""; drawCurves(); }
function drawCurves() {
  const k = $("curvekey").value;
  plot($("curves"), k ? [{ name: k, color: "#2a6fdb", points: gf.curves[k] }] : []);
}
$("curvekey").addEventListener("change", () => { try { drawCurves(); } catch (e) { failed(e); } });

// ---- the live 2D view -----------------------------------------------------------------------
function drawLive(f) {
  gf.live = f;
  const canvas = $("live"), ctx = canvas.getContext("2d"), S = canvas.width, n = f.heat_size;
  const [lo, hi] = f.extent, px = (v) => (v - lo) / (hi - lo) * S, py = (v) => S - (v - lo) / (hi - lo) * S;
  const cell = S / n;
  for (let i = 0; i < n * n; i++) {
    const v = f.heat[i], r = Math.round(40 + 200 * v), g = Math.round(50 + 150 * v), b = Math.round(90 + 60 * (1 - v));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect((i % n) * cell, Math.floor(i / n) * cell, cell + 1, cell + 1);
  }
  ctx.fillStyle = "#1fa33a";
  f.real.forEach(([x, y]) => ctx.fillRect(px(x) - 1.5, py(y) - 1.5, 3, 3));
  ctx.fillStyle = "#d62dc8"; ctx.strokeStyle = "rgba(255,255,255,.8)"; ctx.lineWidth = 1;
  f.fake.forEach(([x, y], i) => {
    ctx.fillRect(px(x) - 2, py(y) - 2, 4, 4);
    if (i < f.arrows.length) {
      const [dx, dy] = f.arrows[i];
      ctx.beginPath(); ctx.moveTo(px(x), py(y)); ctx.lineTo(px(x) + dx * 25, py(y) - dy * 25); ctx.stroke();
    }
  });
  const h = f.history;
  const chart = $("livechart");
  const half = document.createElement("canvas"); half.width = chart.width; half.height = chart.height / 2;
  plot(half, [{ name: `modes (<${f.live_radius})`, color: "#e06000", points: h.map((r) => [r.step, r.modes_live]) },
    { name: "modes3std", color: "#2a6fdb", points: h.map((r) => [r.step, r.modes3std]) }], { y: [0, f.num_modes] });
  const half2 = document.createElement("canvas"); half2.width = chart.width; half2.height = chart.height / 2;
  plot(half2, [{ name: "D loss", color: "#444", points: h.map((r) => [r.step, r.d_loss]) },
    { name: "G loss", color: "#d62dc8", points: h.map((r) => [r.step, r.g_loss]) }]);
  const cctx = chart.getContext("2d");
  cctx.drawImage(half, 0, 0); cctx.drawImage(half2, 0, chart.height / 2);
  $("lstatus").textContent = `G step ${f.step} · D steps ${f.d_steps} · ${f.modes_live}/${f.num_modes} modes · ${f.playing ? "playing" : "paused"}`;
  chart.dataset.modes = String(f.modes_live);
  syncLive(f.settings);
}

// The live view's controls show the server's training (one per explorer: another tab, or this one reloaded,
// may have changed it), except a control the user is editing; and a request carries only what the user
// changed, so play or step in one tab never puts back the settings another tab has just set.
const LIVE = { ldata: "dataset", lloss: "loss", llr: "lr", lk: "k" };
const edited = new Set(); // controls changed here whose value the server has not answered yet
function liveValue(id) { return id === "llr" || id === "lk" ? Number($(id).value) : $(id).value; }
function syncLive(settings) {
  if (!settings) return;
  Object.entries(LIVE).forEach(([id, key]) => {
    if (edited.has(id) || document.activeElement === $(id) || settings[key] === undefined) return;
    if ($(id).value !== String(settings[key])) $(id).value = String(settings[key]);
  });
}
async function liveControl(body) {
  const sent = [...edited].map((id) => [id, $(id).value]);
  sent.forEach(([id]) => { body[LIVE[id]] = liveValue(id); });
  try {
    const frame = await getJSON("/api/live", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    sent.forEach(([id, value]) => { if ($(id).value === value) edited.delete(id); }); // changed again since: still edited
    drawLive(frame);
  } catch (e) {
    sent.forEach(([id, value]) => { if ($(id).value === value) edited.delete(id); }); // refused: the next frame shows the server's
    failed(e);
  }
}
$("lplay").addEventListener("click", () => liveControl({ action: "play" }));
$("lpause").addEventListener("click", () => liveControl({ action: "pause" }));
$("lstepd").addEventListener("click", () => liveControl({ action: "step_d" }));
$("lstepg").addEventListener("click", () => liveControl({ action: "step_g" }));
$("lreset").addEventListener("click", () => liveControl({ action: "reset" }));
Object.keys(LIVE).forEach((id) => {
  $(id).addEventListener("input", () => edited.add(id));
  $(id).addEventListener("change", () => { edited.add(id); liveControl({}); });
});

function startLive() {
  const source = new EventSource("/api/live/stream");
  source.onmessage = (e) => { try { drawLive(JSON.parse(e.data)); } catch (err) { failed(err); } };
}

loadRuns().catch(failed);
startLive();
