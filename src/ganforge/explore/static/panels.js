// ganforge explore: the seed plane, style mixing, nearest training image, and the app panels
// (translate, upscale, anomaly score). Uses app.js's helpers; no library, no request off this server.
"use strict";

function sizeFor(shape, most) { return Math.max(16, Math.min(most, shape[1] * 8)); }

// ---- the seed plane -------------------------------------------------------------------------
async function drawPlane() {
  const canvas = $("plane"), ctx = canvas.getContext("2d");
  $("panel-plane").hidden = !generates();
  if (!generates()) return;
  const body = await getJSON(`/api/runs/${run().id}/plane?` + query({
    a: seedBox("planeA", 0), b: seedBox("planeB", 1), size: $("planeSize").value || 5, span: $("planeSpan").value || 1 }));
  const cell = Math.min(72, Math.floor(540 / body.size)), label = 12;
  canvas.width = body.size * cell + 30; canvas.height = body.size * (cell + label) + 16;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "9px system-ui, sans-serif"; ctx.textAlign = "center";
  body.images.forEach((b64, i) => {
    const col = i % body.size, row = Math.floor(i / body.size), [u, v] = body.coords[i];
    const x = 30 + col * cell, y = row * (cell + label);
    drawImage(ctx, decode(b64, body.shape), x + 2, y + 2, cell - 4);
    // outlined: the cells that are a seed's own sample ((0, 1) only where B's class is the one held)
    const axis = (u === 1 && v === 0) || (u === 0 && v === 1 && body.b_is_sample);
    if (axis) { ctx.strokeStyle = "#e06000"; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, cell - 2, cell - 2); }
    ctx.fillStyle = axis ? "#e06000" : "#555";
    ctx.fillText(`${+u.toFixed(2)}, ${+v.toFixed(2)}`, x + cell / 2, y + cell + 9);
  });
  ctx.save(); ctx.fillStyle = "#222"; ctx.font = "11px system-ui, sans-serif";
  ctx.translate(12, canvas.height / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(`v: seed ${body.b}`, 0, 0); ctx.restore();
  ctx.fillText(`u: seed ${body.a}  (cells labelled u, v)`, canvas.width / 2, canvas.height - 3);
  $("planenote").hidden = body.b_is_sample;
  $("planenote").textContent = body.b_is_sample ? "" : `Every cell has class ${body.class}, seed A's (labels are not ` +
    `blended): (0, 1) is seed B's latent in that class, not seed B's own sample. Pick a class to hold both.`;
  gf.plane = { ...body, cell, label, left: 30, images: undefined };
  bump(canvas);
}
$("plane").addEventListener("click", (e) => {
  const p = gf.plane; if (!p) return;
  const r = e.target.getBoundingClientRect();
  const col = Math.floor((e.clientX - r.left - p.left) / p.cell), row = Math.floor((e.clientY - r.top) / (p.cell + p.label));
  if (col < 0 || col >= p.size || row < 0 || row >= p.size) return;
  const [u, v] = p.coords[row * p.size + col];
  $("planecell").textContent = `cell u=${u}, v=${v}: seed A ${p.a}, seed B ${p.b}; reproduce it with ` +
    `/api/runs/${run().id}/plane?a=${p.a}&b=${p.b}&size=${p.size}&span=${p.span}` + (gf.grid && gf.grid.query ? "&" + gf.grid.query : "");
});
["planeA", "planeB", "planeSize", "planeSpan"].forEach((id) => $(id).addEventListener("change", () => drawPlane().catch(failed)));

// ---- style mixing ---------------------------------------------------------------------------
async function drawMix() {
  const r = run(), canvas = $("mix"), ctx = canvas.getContext("2d");
  $("panel-mix").hidden = !can("style_mix");
  if (!can("style_mix")) return;
  const slider = $("mixLayer");
  if (Number(slider.max) !== r.num_ws - 1) { slider.max = String(r.num_ws - 1); slider.value = String(Math.floor(r.num_ws / 2)); }
  $("mixLayerVal").textContent = `${slider.value}..${r.num_ws - 1} of 0..${r.num_ws - 1}`;
  const q = new URLSearchParams(query({ rows: seedList("mixRows"), cols: seedList("mixCols"), layer: slider.value }));
  q.delete("class");
  const body = await getJSON(`/api/runs/${r.id}/mix?` + q.toString());
  const nr = body.rows.length, nc = body.cols.length, cell = Math.min(72, Math.floor(520 / (nc + 1))), label = 12;
  canvas.width = (nc + 1) * cell; canvas.height = (nr + 1) * (cell + label);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "9px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.fillStyle = "#555";
  const put = (k, col, row, text) => {
    const x = col * cell, y = row * (cell + label);
    drawImage(ctx, decode(body.images[k], body.shape), x + 2, y + 2, cell - 4);
    ctx.fillText(text, x + cell / 2, y + cell + 9);
  };
  body.rows.forEach((s, i) => put(i, 0, i + 1, `seed ${s}`));
  body.cols.forEach((s, j) => put(nr + j, j + 1, 0, `fine: ${s}`));
  body.rows.forEach((s, i) => body.cols.forEach((c, j) => put(nr + nc + i * nc + j, j + 1, i + 1, `${s} | ${c}`)));
  $("mixnote").textContent = `Row seed's styles for layers 0..${body.layer - 1}, column seed's for ${body.layer}..${body.num_ws - 1}: ` +
    `ganforge sample RUN --n 1 --seed ROW --mix-seed COL --mix-layer ${body.layer}`;
  gf.mix = { rows: body.rows, cols: body.cols, layer: body.layer };
  bump(canvas);
}
$("mixLayer").addEventListener("input", () => { $("mixLayerVal").textContent = $("mixLayer").value; });
["mixRows", "mixCols", "mixLayer"].forEach((id) => $(id).addEventListener("change", () => drawMix().catch(failed)));

// ---- nearest training image -----------------------------------------------------------------
async function drawNearest() {
  const canvas = $("nearest"), ctx = canvas.getContext("2d");
  $("panel-nearest").hidden = !generates();
  if (!generates()) return;
  $("nearnote").textContent = "searching the training set (the first time, its judge features are computed)...";
  const body = await getJSON(`/api/runs/${run().id}/nearest?` + query({ seed: seedBox("nearSeed", 0) }));
  const cell = 96, label = 28, n = 1 + body.nearest.length;
  canvas.width = n * (cell + 12); canvas.height = cell + label;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "10px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.fillStyle = "#333";
  drawImage(ctx, decode(body.sample.images[0], body.sample.shape), 4, 2, cell - 4);
  ctx.fillText(`sample: seed ${body.seed}`, cell / 2, cell + 12);
  body.nearest.forEach((m, i) => {
    const x = (i + 1) * (cell + 12);
    drawImage(ctx, decode(m.images[0], m.shape), x + 4, 2, cell - 4);
    ctx.fillText(`${m.space}: #${m.index}`, x + cell / 2, cell + 12);
    ctx.fillText(`distance ${m.distance.toFixed(3)}`, x + cell / 2, cell + 24);
  });
  $("nearnote").textContent = `Nearest of ${body.train_size} training images. ` +
    body.nearest.map((m) => `${m.space}: #${m.index} at distance ${m.distance.toFixed(4)} (${m.metric})`).join("; ") +
    (body.judge ? ` (judge ${body.judge.name}, test accuracy ${(100 * body.judge.test_accuracy).toFixed(1)}%)` : " (no judge for this dataset: pixels only)");
  gf.nearest = body;
  bump(canvas);
}
$("nearGo").addEventListener("click", () => drawNearest().catch(failed));

// ---- app panels: translate, upscale, score --------------------------------------------------
const APPS = { translate: "tr", upscale: "up", score: "sc" };

function appQuery(task) {
  const q = new URLSearchParams();
  if ($("ckpt").value) q.set("checkpoint", $("ckpt").value);
  if (task === "translate" && $("trDir").value) q.set("direction", $("trDir").value);
  return q.toString();
}

async function loadInputs(task) {
  const p = APPS[task], canvas = $(p + "Inputs"), ctx = canvas.getContext("2d");
  const body = await getJSON(`/api/runs/${run().id}/apps/${task}/inputs?` + appQuery(task));
  // as many a row as the panel is wide, then the next row: the strip never runs past the panel's edge
  const cell = 40, room = canvas.parentElement.clientWidth - 32, n = body.images.length;
  const cols = Math.max(1, Math.min(n, Math.floor(room / cell)));
  canvas.width = cols * cell; canvas.height = Math.ceil(n / cols) * cell;
  body.images.forEach((b64, i) => drawImage(ctx, decode(b64, body.shape), (i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, cell - 2));
  canvas.dataset.count = String(n);
  canvas.dataset.cols = String(cols);
}

function row(ctx, items, cell) {
  ctx.font = "10px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.fillStyle = "#333";
  let x = 0;
  items.forEach(([img, text, w, h]) => {
    drawImageWH(ctx, img, x + 4, 2, w, h);
    ctx.fillText(text, x + 4 + w / 2, h + 14);
    x += w + 12;
  });
}
function drawImageWH(ctx, imageData, x, y, w, h) {
  const tmp = document.createElement("canvas");
  tmp.width = imageData.width; tmp.height = imageData.height;
  tmp.getContext("2d").putImageData(imageData, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, x, y, w, h);
}

async function applyApp(task, index, file) {
  const p = APPS[task], out = $(p + "Out"), ctx = out.getContext("2d");
  const url = `/api/runs/${run().id}/apps/${task}?` + appQuery(task) + (file ? "" : `&index=${index}`);
  const body = await getJSON(url, { method: "POST", body: file ? await file.arrayBuffer() : "" });
  const one = (enc) => decode(enc.images[0], enc.shape);
  const scaled = (enc, most) => { const [, h, w] = enc.shape, k = Math.max(1, Math.floor(most / Math.max(h, w))); return [w * k, h * k]; };
  if (task === "translate") {
    const [w, h] = scaled(body.input, 160);
    out.width = 2 * (w + 12); out.height = h + 20; ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, out.width, out.height);
    row(ctx, [[one(body.input), `input (${body.source})`, w, h], [one(body.output), `${body.direction[0]} to ${body.direction[1]}`, w, h]]);
  } else if (task === "score") {
    const [, h, w2] = body.overlay.shape, k = Math.max(1, Math.floor(200 / h));
    out.width = w2 * k + 12; out.height = h * k + 20; ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, out.width, out.height);
    row(ctx, [[one(body.overlay), `image | residual map (max ${body.residual_max.toFixed(2)})`, w2 * k, h * k]]);
    $("scnote").textContent = `${body.method} anomaly score ${body.score.toPrecision(4)} (higher: more anomalous), ${body.source} image.`;
  } else {
    gf.upscale = body;
    drawUpscale();
  }
  gf.app = { task, source: body.source, score: body.score };
  bump(out);
  return body;
}

function drawUpscale() {
  const body = gf.upscale; if (!body) return;
  const out = $("upOut"), ctx = out.getContext("2d");
  const [, H, W] = body.output.shape, k = Math.max(1, Math.floor(256 / Math.max(H, W))), w = W * k, h = H * k;
  const extra = body.original ? w + 12 : 0;
  out.width = w + 24 + extra; out.height = h + 20; ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, out.width, out.height);
  const t = Number($("upSlider").value) / 100, cut = Math.round(w * t);
  const bic = decode(body.bicubic.images[0], body.bicubic.shape), sr = decode(body.output.images[0], body.output.shape);
  drawImageWH(ctx, sr, 4, 2, w, h);
  ctx.save(); ctx.beginPath(); ctx.rect(4, 2, cut, h); ctx.clip(); drawImageWH(ctx, bic, 4, 2, w, h); ctx.restore();
  ctx.strokeStyle = "#e06000"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(4 + cut, 2); ctx.lineTo(4 + cut, h + 2); ctx.stroke();
  ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = "#333"; ctx.textAlign = "left";
  ctx.fillText(`bicubic | model (x${body.scale}, from ${body.lr.shape[2]}x${body.lr.shape[1]})`, 4, h + 14);
  if (body.original) { drawImageWH(ctx, decode(body.original.images[0], body.original.shape), w + 16, 2, w, h); ctx.fillText("original", w + 16, h + 14); }
  bump(out);
}
$("upSlider").addEventListener("input", drawUpscale);

Object.entries(APPS).forEach(([task, p]) => {
  $(p + "Inputs").addEventListener("click", (e) => {
    const r = e.target.getBoundingClientRect(), cols = Number(e.target.dataset.cols) || 1;
    const col = Math.floor((e.clientX - r.left) / 40), i = Math.floor((e.clientY - r.top) / 40) * cols + col;
    if (col < cols && i < Number(e.target.dataset.count)) applyApp(task, i).catch(failed);
  });
  $(p + "File").addEventListener("change", (e) => {
    if (e.target.files.length) applyApp(task, 0, e.target.files[0]).catch(failed);
  });
});
$("trDir").addEventListener("change", () => loadInputs("translate").then(() => applyApp("translate", 0)).catch(failed));

async function showApps() {
  const r = run();
  $("trDir").innerHTML = (r.directions || []).map((d) => `<option>${d}</option>`).join("");
  const jobs = [];
  Object.keys(APPS).forEach((task) => {
    const section = $("panel-" + task);
    section.hidden = !can(task);
    // applied only while this run is still the one picked: a switch meanwhile would send it to the new run
    if (can(task)) jobs.push(loadInputs(task).then(() => (run() === r ? applyApp(task, 0) : null)));
  });
  await Promise.all(jobs);
}

gf.panels.push(async (why, seed) => {
  if (why === "seed") { $("nearSeed").value = seed; $("planeB").value = $("planeA").value; $("planeA").value = seed; }
  const jobs = [drawPlane(), drawMix()];
  if (why === "run") { gf.upscale = null; jobs.push(showApps()); }
  $("panel-nearest").hidden = !generates(); // searched on "find" only: the first search reads the training set
  try { await Promise.all(jobs); } catch (e) { failed(e); }
});
