// The gate explorer (explorer.md): sliders for the gate biases and for the scale of the
// matrices that multiply the previous state, and two plots redrawn on every change by
// running the cell's generated forward and backward (javascripts/generated/<cell>.js,
// printed from the derivation) on the problem in javascripts/generated/explorer-data.js.
// Plain DOM and SVG, nothing loaded from elsewhere.  Each plotted line carries the numbers
// it draws in data-values, so a test can read what the page shows.  Every word it writes is
// the page's: the template passes them, translated, in the root's data-strings, with
// {placeholders} for the values (one script for every edition).
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const MARGIN = { left: 52, right: 12, top: 12, bottom: 40 };
  const HEIGHT = 240;

  function make(tag, attrs, parent, namespace) {
    const node = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  const svg = (tag, attrs, parent) => make(tag, attrs, parent, SVG);

  // A name such as W_o written with its subscript: W<sub>o</sub>.
  function symbol(name, parent) {
    const [base, ...rest] = name.split("_");
    const node = make("span", { class: "gate-explorer__symbol", text: base }, parent);
    if (rest.length) make("sub", { text: rest.join("_") }, node);
    return node;
  }

  // A page string with its {placeholders} filled, as parts for write(): plain text and
  // subscripts alternate.  A value is text, or parts itself (a symbol with its subscript).
  function fill(template, values) {
    const out = [""];
    template.split(/\{(\w+)\}/).forEach((piece, j) => {
      const value = j % 2 ? values[piece] : piece;
      const parts = Array.isArray(value) ? value : [String(value)];
      out[out.length - 1] += parts[0];
      out.push(...parts.slice(1));
      if (out.length % 2 === 0) out.push("");
    });
    return out;
  }

  // The same into an HTML node, where a value may also be a function that writes itself.
  function place(node, template, values) {
    template.split(/\{(\w+)\}/).forEach((piece, j) => {
      const value = j % 2 ? values[piece] : piece;
      if (typeof value === "function") value(node);
      else write(node, Array.isArray(value) ? value : [String(value)]);
    });
    return node;
  }

  // The parameters the sliders ask for: every entry of each gate's bias set to its
  // slider's value, the recurrent matrices times the scale.
  function settle(cell, values) {
    const params = {};
    for (const [name, entries] of Object.entries(cell.params)) {
      const scale = cell.recurrent.includes(name) ? values.scale : 1;
      params[name] = Float64Array.from(entries, (v) => v * scale);
    }
    for (const slider of cell.sliders) params[slider.name].fill(values[slider.name]);
    return params;
  }

  function norm(v) {
    let sum = 0;
    for (const e of v) sum += e * e;
    return Math.sqrt(sum);
  }

  // The state over the steps, and ‖∂L/∂s_{T-k}‖ for k = 1..T with L = gᵀ (last output):
  // along all paths, and along the state's own path alone.  The second is the same backward
  // pass with the recurrent matrices zero and the forward values kept: only the elementwise
  // path from s_t to s_{t-1} (the LSTM's f, the GRU's 1 − i) is left, every path through W
  // is cut (as derive/site/figures.py path_gradients splits it for the gradients page).
  function run(data, name, values) {
    const cell = data.cells[name];
    const code = globalThis.deriveCells[name];
    const x = data.x.map((v) => Float64Array.from(v));
    const T = x.length;
    const { outputs, values: computed, cache } = code.forward(settle(cell, values), x);
    const d = Array.from({ length: T }, () => new Float64Array(data.hidden));
    d[T - 1] = Float64Array.from(data.g);
    const backNorms = (params) => {
      const { carried } = code.backward({ ...cache, params }, { [cell.loss]: d });
      const out = [];
      for (let k = 1; k <= T; k++) out.push(norm(carried[cell.state][T - k]));
      return out;
    };
    const cut = { ...cache.params };
    for (const name of cell.recurrent) cut[name] = new Float64Array(cache.params[name].length);
    return { states: outputs[cell.state], values: computed, norms: backNorms(cache.params), statePath: backNorms(cut) };
  }

  // The smallest of 1, 2, 5 times a power of ten that is at least v.
  const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
  const decade = (e) => (e === 0 ? "1" : "10" + String(e).replace(/./g, (c) => SUPERSCRIPT[c]));

  // Text with subscripts: parts alternate plain text and a subscript ("s", "T−k", "‖").
  function write(node, parts, inSvg) {
    parts.forEach((part, j) => {
      if (!part) return;
      if (j % 2 === 0) {
        if (inSvg) svg("tspan", { dy: j ? -4 : 0, text: part }, node);
        else node.append(part);
      } else if (inSvg) {
        svg("tspan", { dy: 4, "font-size": "10", text: part }, node);
      } else {
        make("sub", { text: part }, node);
      }
    });
    return node;
  }

  // An empty plot: axes, grid and labels; returns where to draw and how to place points.
  function frame(plot, width, xs, ys, xlabel, ylabel) {
    plot.replaceChildren();
    plot.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    plot.setAttribute("width", width);
    plot.setAttribute("height", HEIGHT);
    const inner = { w: width - MARGIN.left - MARGIN.right, h: HEIGHT - MARGIN.top - MARGIN.bottom };
    const px = (v) => MARGIN.left + ((v - xs.min) / (xs.max - xs.min)) * inner.w;
    const py = (v) => MARGIN.top + (1 - (v - ys.min) / (ys.max - ys.min)) * inner.h;
    const grid = svg("g", { class: "gate-explorer__grid" }, plot);
    for (const t of xs.ticks) {
      svg("line", { x1: px(t), x2: px(t), y1: MARGIN.top, y2: MARGIN.top + inner.h }, grid);
      svg("text", { x: px(t), y: MARGIN.top + inner.h + 16, "text-anchor": "middle", text: t }, plot);
    }
    for (const [v, label] of ys.ticks) {
      svg("line", { x1: MARGIN.left, x2: MARGIN.left + inner.w, y1: py(v), y2: py(v) }, grid);
      svg("text", { x: MARGIN.left - 6, y: py(v) + 4, "text-anchor": "end", text: label }, plot);
    }
    svg("rect", { class: "gate-explorer__box", x: MARGIN.left, y: MARGIN.top, width: inner.w, height: inner.h }, plot);
    svg("text", { x: MARGIN.left + inner.w / 2, y: HEIGHT - 4, "text-anchor": "middle", text: xlabel }, plot);
    const title = write(svg("text", { x: 12, y: MARGIN.top + inner.h / 2, "text-anchor": "middle" }, plot), ylabel, true);
    title.setAttribute("transform", `rotate(-90 12 ${MARGIN.top + inner.h / 2})`);
    return { px, py, lines: svg("g", { class: "gate-explorer__lines" }, plot) };
  }

  function path(points) {
    return points.map(([x, y], j) => `${j ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
  }

  function stepTicks(T) {
    const ticks = [1];
    for (let t = 10; t <= T; t += 10) ticks.push(t);
    return { min: 1, max: T, ticks };
  }

  // The name a value is written with: s̃ for s_tilde.
  const written = (name) => name.replace(/_tilde$/, "\u0303");

  function drawStates(plot, width, states, name, axis, words) {
    const T = states.length, n = states[0].length;
    // A fixed axis (explorer-data.js): a slider moves the lines, not the scale. A gate's
    // runs from 0 to 1, any other value's is symmetric.
    const top = axis.top, bottom = axis.gate ? 0 : -top;
    const marks = axis.gate ? [0, 0.25, 0.5, 0.75, 1] : [-top, -top / 2, 0, top / 2, top];
    const ys = { min: bottom, max: top, ticks: marks.map((v) => [v, String(+v.toPrecision(3))]) };
    const { px, py, lines } = frame(plot, width, stepTicks(T), ys, words.step, fill(words.entries, { value: [written(name), "t"] }));
    const clamp = (v) => Math.max(bottom, Math.min(top, v));
    for (let j = 0; j < n; j++) {
      const values = states.map((s) => s[j]);
      svg("path", {
        class: "gate-explorer__unit",
        style: `--hue: ${(j * 360) / n}`,
        d: path(values.map((v, t) => [px(t + 1), py(clamp(v))])),
        "data-unit": j,
        "data-values": JSON.stringify(values),
      }, lines);
    }
  }

  // norms: what the bold line draws (all paths, or the state path alone when whole is given);
  // whole: the gradient along all paths, drawn thin beside it.
  function drawNorms(plot, width, norms, axes, baseline, whole, words) {
    const T = norms.length;
    // Fixed decades (explorer-data.js), the same for every setting of the sliders.
    const lowest = axes.low, highest = axes.high;
    const every = Math.ceil((highest - lowest) / 6);
    const ticks = [];
    for (let e = highest; e >= lowest; e -= every) ticks.push([e, decade(e)]);
    const ys = { min: lowest, max: highest, ticks };
    const { px, py, lines } = frame(plot, width, stepTicks(T), ys, words.back, ["‖∂L/∂s", "T−k", "‖"]);
    // An exact zero (an underflow), or a value off the axis, is drawn on its edge.
    const at = (v) => Math.max(lowest, Math.min(highest, v > 0 ? Math.log10(v) : lowest));
    const points = (values) => values.map((v, j) => [px(j + 1), py(at(v))]);
    // The starting settings, faint, for comparison.
    svg("path", { class: "gate-explorer__baseline", d: path(points(baseline)), "data-values": JSON.stringify(baseline) }, lines);
    if (whole) svg("path", { class: "gate-explorer__whole", d: path(points(whole)), "data-values": JSON.stringify(whole) }, lines);
    svg("path", {
      class: "gate-explorer__norm", d: path(points(norms)), "data-values": JSON.stringify(norms),
      "data-path": whole ? "state" : "all",
    }, lines);
  }

  function start() {
    const root = document.querySelector("div.gate-explorer");
    const data = globalThis.deriveExplorer;
    if (!root || !data || !globalThis.deriveCells) return;
    const words = JSON.parse(root.dataset.strings);
    root.replaceChildren();
    const values = {};
    const initial = (cell) => Object.fromEntries([...cell.sliders.map((s) => [s.name, s.value]), ["scale", 1]]);
    for (const [name, cell] of Object.entries(data.cells)) values[name] = initial(cell);
    let current = Object.keys(data.cells)[0];
    const shownValue = {}; // per cell: which value the upper plot shows (its state at first)
    for (const [name, cell] of Object.entries(data.cells)) shownValue[name] = cell.axes.values[0].name;

    const choice = make("div", { class: "gate-explorer__cells", role: "radiogroup", "aria-label": words.cell }, root);
    for (const name of Object.keys(data.cells)) {
      const label = make("label", {}, choice);
      const input = make("input", { type: "radio", name: "gate-explorer-cell", value: name }, label);
      input.checked = name === current;
      label.append(" " + name.toUpperCase());
      input.addEventListener("change", () => {
        current = name;
        sliders();
        picker();
        update();
      });
    }
    const reset = make("button", { type: "button", class: "md-button gate-explorer__reset", text: words.reset }, choice);
    reset.addEventListener("click", () => {
      values[current] = initial(data.cells[current]);
      sliders();
      update();
    });
    const controls = make("div", { class: "gate-explorer__sliders" }, root);
    const picked = make("div", { class: "gate-explorer__cells", role: "radiogroup", "aria-label": words.plotted }, root);

    // Which of the cell's values the upper plot shows: its state, output, gates, candidate.
    function picker() {
      picked.replaceChildren(words.upper + " ");
      for (const axis of data.cells[current].axes.values) {
        const label = make("label", {}, picked);
        const input = make("input", { type: "radio", name: "gate-explorer-value", value: axis.name }, label);
        input.checked = axis.name === shownValue[current];
        label.append(" " + written(axis.name));
        input.addEventListener("change", () => {
          shownValue[current] = axis.name;
          update();
        });
      }
    }
    const statePlot = svg("svg", { class: "gate-explorer__plot", "data-plot": "state", role: "img" });
    const normPlot = svg("svg", { class: "gate-explorer__plot", "data-plot": "gradient", role: "img" });
    const first = make("figure", { class: "gate-explorer__figure" }, root);
    first.appendChild(statePlot);
    const stateCaption = make("figcaption", {}, first);
    // The lower plot: the gradient along all paths, or along the state's own path alone.
    const pathChoice = make("label", { class: "gate-explorer__switch" }, root);
    const statePathOnly = make("input", { type: "checkbox", name: "gate-explorer-state-path" }, pathChoice);
    place(pathChoice, " " + words.statePath, { now: ["s", "t"], before: ["s", "t−1"] });
    statePathOnly.addEventListener("change", () => update());
    const second = make("figure", { class: "gate-explorer__figure" }, root);
    second.appendChild(normPlot);
    const normCaption = make("figcaption", {}, second);

    function slider(spec, label) {
      const row = make("label", { class: "gate-explorer__slider" }, controls);
      const head = make("span", { class: "gate-explorer__label" }, row);
      head.appendChild(label);
      const shown = make("output", {}, head);
      const input = make("input", {
        type: "range", min: spec.min, max: spec.max, step: spec.step, value: values[current][spec.name],
        "data-name": spec.name,
      }, row);
      // A bias shows the value its gate starts from as well: σ(b).
      const show = () => {
        const v = Number(input.value);
        shown.textContent = v.toFixed(2) + (spec.gate ? ` (σ = ${(1 / (1 + Math.exp(-v))).toFixed(2)})` : "");
      };
      show();
      input.addEventListener("input", () => {
        values[current][spec.name] = Number(input.value);
        show();
        update();
      });
    }

    function sliders() {
      controls.replaceChildren();
      const cell = data.cells[current];
      for (const s of cell.sliders) {
        const label = document.createDocumentFragment();
        place(label, words.bias + " ", { bias: (node) => symbol(s.name, node), gate: words.gates[current][s.name] });
        slider({ ...data.biases, name: s.name, gate: true }, label);
      }
      const label = document.createDocumentFragment();
      const matrices = (node) => cell.recurrent.forEach((name, j) => {
        if (j) node.append(words.comma);
        symbol(name, node);
      });
      place(label, words.scale + " ", { matrices });
      slider({ ...data.scales, name: "scale" }, label);
    }

    function update() {
      const cell = data.cells[current];
      const { states, values: all, norms, statePath } = run(data, current, values[current]);
      const axis = cell.axes.values.find((a) => a.name === shownValue[current]);
      const plotted = axis.name === cell.state ? states : all[axis.name];
      const width = Math.max(280, Math.floor(root.clientWidth));
      root.dataset.cell = current;
      const alone = statePathOnly.checked;
      const start = run(data, current, initial(cell));
      const shownNorms = alone ? statePath : norms;
      drawStates(statePlot, width, plotted, axis.name, axis, words);
      statePlot.dataset.value = axis.name;
      drawNorms(normPlot, width, shownNorms, cell.axes, alone ? start.statePath : start.norms, alone ? norms : null, words);
      // The sliders' settings, each named by its symbol (the scale by the page's word for it).
      const settings = Object.entries(values[current])
        .map(([k, v]) => `${k === "scale" ? words.scaleName : k} = ${v}`).join(words.comma);
      const value = written(axis.name);
      const named = { n: data.hidden, steps: states.length, settings, cell: current.toUpperCase() };
      statePlot.setAttribute("aria-label", fill(words.stateLabel, { ...named, value }).join(""));
      normPlot.setAttribute("aria-label", fill(words.normLabel, named).join(""));
      stateCaption.replaceChildren();
      const what = axis.name === cell.state ? "stateCaption" : axis.gate ? "gateCaption" : "valueCaption";
      write(stateCaption, fill(words[what], { ...named, value: [value, "t"] }));
      const at = (drawn) => data.shown.filter((k) => k <= norms.length)
        .map((k) => `k = ${k}: ${drawn[k - 1].toPrecision(2)}`).join(words.comma);
      const norm = { ...named, norm: [`‖∂L/∂${cell.state}`, "T−k", "‖"], loss: [`gᵀ${cell.loss}`, "T"] };
      normCaption.replaceChildren();
      if (alone) {
        // The RNN's every path goes through its matrix: its state path is exactly zero.
        const caption = statePath.every((v) => v === 0) ? "nothingAloneCaption" : "aloneCaption";
        write(normCaption, fill(words[caption], { ...norm, at: at(shownNorms), all: at(norms) }));
      } else {
        write(normCaption, fill(words.normCaption, { ...norm, at: at(shownNorms) }));
      }
    }

    sliders();
    picker();
    update();
    let width = root.clientWidth;
    new ResizeObserver(() => {
      if (root.clientWidth !== width) {
        width = root.clientWidth;
        update();
      }
    }).observe(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
