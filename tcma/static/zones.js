/* Zone editor for the vendor asset page (templates/assets/show.html).
 *
 * Plain JavaScript, no build step. The marketer draws boxes on page previews with a mouse,
 * a pen or a finger (pointer events), moves and resizes them, and says what goes in each
 * through a small form of ordinary inputs, which is also the keyboard route. The list of
 * zones lives in the #zones textarea that the form posts to /assets/<id>/zones, so the
 * server contract stays one JSON list and the page works (as a JSON form) without script.
 *
 * Zones are kept in page units (PDF points or image pixels) with the origin at the page's
 * top-left corner, as the server stores them; boxes are drawn in percentages of the page, so
 * whatever size the preview is shown at, the stored numbers stay exact.
 */
(function () {
  'use strict';

  var root = document.getElementById('zone-editor');
  if (!root) return;

  var options = JSON.parse(root.dataset.options || '{}');
  var editable = root.dataset.editable === 'true';
  var textarea = document.getElementById('zones');
  var figures = Array.prototype.slice.call(root.querySelectorAll('.zone-page'));
  var layers = figures.map(function (f) { return f.querySelector('.ze-layer'); });
  var sizes = figures.map(function (f) {
    return [parseFloat(f.dataset.width), parseFloat(f.dataset.height)];
  });
  if (!textarea || !figures.length) return;

  var $ = function (id) { return document.getElementById(id); };
  var pageSelect = $('ze-page');
  var list = $('ze-list');
  var form = $('ze-form');
  var problemsBox = $('ze-problems');
  var dirtyNote = $('ze-dirty');
  var jsonError = $('ze-json-error');
  var savePage = $('ze-save-page');
  var previewImage = document.querySelector('[data-testid="partner-preview"]');
  var previewPage = $('page');
  var previewNote = $('ze-preview-note');
  var tools = Array.prototype.slice.call(root.querySelectorAll('[data-tool]'));
  var fields = form ? Array.prototype.slice.call(form.querySelectorAll('[data-field]')) : [];

  var DRAG_THRESHOLD = 4; // CSS pixels a pointer must travel before a press becomes a drag
  var decimals = options.unit === 'px' ? 0 : 1;

  var zones = [];
  var serverErrors = JSON.parse(root.dataset.errors || '[]');
  var current = clampPage(parseInt(root.dataset.page, 10) || 0);
  var selected = -1;
  var tool = null;
  var drag = null;
  var dirty = false;
  var zoneEls = [];

  /* ---- the model ------------------------------------------------------------------- */

  function clampPage(n) { return Math.max(0, Math.min(figures.length - 1, n)); }
  function round(v) { var f = Math.pow(10, decimals); return Math.round(v * f) / f; }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
  function minSide(page) { var s = sizes[page]; return Math.max(1, Math.min(s[0], s[1]) / 100); }

  function defaultTextSize(page) {
    // 12 pt on an A4 page; the same share of the page on a large image.
    var size = Math.round(sizes[page][1] / 70);
    return clamp(size, 6, Math.min(48, options.max_size || 500));
  }

  /** A zone with every field the editor edits, from whatever JSON it was given. */
  function normalise(item) {
    var page = Number.isInteger(item.page) ? item.page : 0;
    var z = {
      page: page, x: Number(item.x) || 0, y: Number(item.y) || 0,
      width: Number(item.width) || 0, height: Number(item.height) || 0,
      kind: item.kind || 'logo',
      template: typeof item.template === 'string' ? item.template : '',
      font: item.font || 'sans',
      size: item.size != null ? Number(item.size) : 12,
      min_size: item.min_size != null ? Number(item.min_size) : 6,
      color: item.color || '#000000',
      align: item.align || 'left', valign: item.valign || 'top'
    };
    return z;
  }

  /** Rounded edges; rounding never pushes a box that fits past the page's edge. */
  function rounded(z) {
    var s = sizes[z.page] || [Infinity, Infinity];
    var x = round(z.x), y = round(z.y);
    var right = round(z.x + z.width), bottom = round(z.y + z.height);
    if (z.x + z.width <= s[0] && right > s[0]) right = s[0];
    if (z.y + z.height <= s[1] && bottom > s[1]) bottom = s[1];
    return { x: x, y: y, width: round(right - x), height: round(bottom - y) };
  }

  /** The JSON the server reads: text-only fields are left out of logo zones. */
  function toJSON(z) {
    var box = rounded(z);
    var out = { page: z.page, x: box.x, y: box.y, width: box.width, height: box.height,
      kind: z.kind };
    if (z.kind === 'text') {
      out.template = z.template; out.font = z.font; out.size = z.size;
      out.min_size = z.min_size; out.color = z.color;
    } else if (z.kind === 'qr') {
      out.template = z.template; out.color = z.color;
    }
    out.align = z.align; out.valign = z.valign;
    return out;
  }

  function newZone(kind, page, box) {
    var size = defaultTextSize(page);
    return normalise({
      page: page, x: box.x, y: box.y, width: box.width, height: box.height, kind: kind,
      template: kind === 'text' ? '{{ partner.display_name }}\n{{ partner.phone }}'
        : kind === 'qr' ? 'https://' : '',
      font: 'sans', size: size, min_size: Math.max(1, Math.round(size / 2)),
      color: '#000000',
      align: kind === 'text' ? 'left' : 'center', valign: kind === 'text' ? 'top' : 'middle'
    });
  }

  /** What the server would refuse, said before the marketer saves. */
  function problems(z, index) {
    var out = [];
    var s = sizes[z.page];
    var unit = options.unit;
    if (!s) { out.push('Page ' + (z.page + 1) + ' does not exist.'); return out; }
    if (!(z.width > 0) || !(z.height > 0)) out.push('The box needs a width and a height.');
    if (z.x < 0 || z.y < 0 || z.x + z.width > s[0] + 0.5 || z.y + z.height > s[1] + 0.5) {
      out.push('The box reaches outside the page (' + round(s[0]) + ' × ' + round(s[1]) + ' ' +
        unit + ').');
    }
    if (z.kind === 'text') {
      if (!z.template.trim()) out.push('Write the text to show, e.g. {{ partner.phone }}.');
      if (!(z.size > 0 && z.size <= options.max_size)) {
        out.push('Use a size between 1 and ' + options.max_size + '.');
      }
      if (!(z.min_size >= 1)) out.push('Use a min size of at least 1.');
      else if (z.min_size > z.size) out.push('The min size is larger than the size.');
    }
    if (z.kind === 'qr') {
      if (!/^https?:\/\/[^\s\/?#@\\]+/i.test((z.template || '').trim())) {
        out.push('Enter the address the QR code leads to (https://…).');
      }
      if (Math.min(z.width, z.height) < options.min_qr) {
        out.push('A QR code needs a box of at least ' + options.min_qr + ' × ' +
          options.min_qr + ' ' + unit + ' to scan.');
      }
    }
    serverErrors.forEach(function (e) {
      if (e.zone === index) out.push(e.field.replace('_', ' ') + ': ' + e.message);
    });
    return out;
  }

  /* ---- keeping the textarea in step --------------------------------------------------- */

  function load(text) {
    var data;
    try { data = JSON.parse(text || '[]'); } catch (e) { return 'This is not valid JSON yet.'; }
    if (!Array.isArray(data)) return 'The zones must be a list: [ … ].';
    zones = data.filter(function (d) { return d && typeof d === 'object'; }).map(normalise);
    return null;
  }

  function sync() {
    textarea.value = JSON.stringify(zones.map(toJSON), null, 1);
    if (jsonError) jsonError.hidden = true;
  }

  function changed() {
    dirty = true;
    sync();
    if (dirtyNote) dirtyNote.textContent = 'Unsaved changes';
    if (previewNote) {
      previewNote.textContent = 'The preview shows the saved boxes: save to see your changes.';
      previewNote.classList.add('warn-text');
    }
  }

  /* ---- drawing ----------------------------------------------------------------------- */

  function place(el, z) {
    var s = sizes[z.page];
    el.style.left = (z.x / s[0] * 100) + '%';
    el.style.top = (z.y / s[1] * 100) + '%';
    el.style.width = (z.width / s[0] * 100) + '%';
    el.style.height = (z.height / s[1] * 100) + '%';
    if (z.kind === 'text') {
      var scale = layers[z.page].clientWidth / s[0];
      var label = el.querySelector('.ze-label');
      label.style.fontSize = Math.max(6, z.size * scale) + 'px';
      label.style.color = z.color;
      label.style.textAlign = z.align;
      label.style.fontWeight = z.font === 'sans-bold' ? '700' : '400';
      el.style.justifyContent = { top: 'flex-start', middle: 'center', bottom: 'flex-end' }[
        z.valign] || 'flex-start';
    }
  }

  function describe(z) {
    if (z.kind === 'logo') return 'Partner logo';
    if (z.kind === 'qr') return 'QR code: ' + (z.template || '').trim();
    var first = (z.template || '').split('\n')[0].trim();
    return 'Text' + (first ? ': ' + first : '');
  }

  function zoneElement(z, index) {
    var el = document.createElement('div');
    el.className = 'ze-zone ze-' + z.kind + (index === selected ? ' selected' : '') +
      (problems(z, index).length ? ' invalid' : '');
    el.dataset.index = index;
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', 'Box ' + (index + 1) + ', ' + describe(z) +
      (editable ? '. Arrow keys move it, Delete removes it.' : ''));
    if (index === selected) el.setAttribute('aria-current', 'true');
    var number = document.createElement('span');
    number.className = 'ze-num';
    number.textContent = index + 1;
    number.setAttribute('aria-hidden', 'true');
    var label = document.createElement('span');
    label.className = 'ze-label';
    label.setAttribute('aria-hidden', 'true');
    label.textContent = z.kind === 'logo' ? 'LOGO' : z.kind === 'qr' ? 'QR' : z.template;
    el.appendChild(number);
    el.appendChild(label);
    if (editable && index === selected) {
      ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'].forEach(function (h) {
        var handle = document.createElement('span');
        handle.className = 'ze-handle ze-' + h;
        handle.dataset.handle = h;
        handle.setAttribute('aria-hidden', 'true');
        el.appendChild(handle);
      });
    }
    place(el, z);
    return el;
  }

  function renderPages() {
    root.classList.add('ze-ready');
    figures.forEach(function (f, i) { f.classList.toggle('current', i === current); });
    if (pageSelect) pageSelect.value = String(current);
    var prev = root.querySelector('[data-ze="prev"]');
    var next = root.querySelector('[data-ze="next"]');
    if (prev) prev.disabled = current === 0;
    if (next) next.disabled = current === figures.length - 1;
    if (savePage) savePage.value = String(current + 1);
    var img = figures[current].querySelector('img');
    if (img && img.loading === 'lazy') img.loading = 'eager';
  }

  function renderZones(keepFocus) {
    var focused = keepFocus && document.activeElement &&
      document.activeElement.classList.contains('ze-zone');
    layers.forEach(function (layer) {
      while (layer.firstChild) layer.removeChild(layer.firstChild);
    });
    zoneEls = zones.map(function (z, i) {
      if (!layers[z.page]) return null;
      var el = zoneElement(z, i);
      layers[z.page].appendChild(el);
      return el;
    });
    if (focused && zoneEls[selected]) zoneEls[selected].focus();
  }

  function renderList() {
    if (!list) return;
    while (list.firstChild) list.removeChild(list.firstChild);
    zones.forEach(function (z, i) {
      var item = document.createElement('li');
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'link' + (problems(z, i).length ? ' danger' : '');
      button.textContent = ({ logo: 'Partner logo', qr: 'QR code' }[z.kind] || 'Text') +
        (figures.length > 1 ? ', page ' + (z.page + 1) : '');
      if (z.kind !== 'logo' && z.template.trim()) {
        var sub = document.createElement('span');
        sub.className = 'sub';
        sub.textContent = z.template.trim().split('\n')[0];
        button.appendChild(sub);
      }
      if (i === selected) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', function () {
        select(i, true);
        if (zoneEls[i]) zoneEls[i].focus();
      });
      item.appendChild(button);
      if (z.page === current) item.className = 'on-page';
      list.appendChild(item);
    });
    list.hidden = !zones.length;
    var empty = $('ze-empty');
    if (empty) empty.hidden = zones.length > 0;
    var count = $('ze-count');
    if (count) count.textContent = zones.length ? '(' + zones.length + ')' : '';
  }

  function renderForm() {
    if (!form) return;
    var z = zones[selected];
    form.hidden = !z;
    var pick = $('ze-pick');
    if (pick) pick.hidden = !!z || !zones.length;
    if (!z) return;
    $('ze-form-title').textContent = 'Box ' + (selected + 1);
    var box = rounded(z); // the numbers that will be saved
    fields.forEach(function (input) {
      var name = input.dataset.field;
      if (document.activeElement === input) return; // never fight the person typing
      input.value = String(name in box ? box[name] : z[name]);
    });
    form.querySelector('.ze-text-only').hidden = z.kind !== 'text';
    form.querySelector('.ze-qr-only').hidden = z.kind !== 'qr';
    var found = problems(z, selected);
    problemsBox.hidden = !found.length;
    while (problemsBox.firstChild) problemsBox.removeChild(problemsBox.firstChild);
    found.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p;
      problemsBox.appendChild(li);
    });
  }

  function render(keepFocus) {
    renderPages();
    renderZones(keepFocus);
    renderList();
    renderForm();
  }

  /** Light update while dragging: the moving box, the form and the textarea only. */
  function update(index) {
    var z = zones[index];
    if (zoneEls[index]) {
      place(zoneEls[index], z);
      zoneEls[index].classList.toggle('invalid', problems(z, index).length > 0);
    }
    renderForm();
    changed();
  }

  function select(index, showPage) {
    selected = index;
    if (showPage && zones[index]) current = zones[index].page;
    render();
  }

  function goTo(page) {
    current = clampPage(page);
    if (zones[selected] && zones[selected].page !== current) selected = -1;
    render();
    if (previewImage && previewPage) {
      // The preview follows the page being edited (it shows the saved boxes).
      var url = new URL(previewImage.src, window.location.href);
      url.searchParams.set('page', String(current + 1));
      previewImage.src = url.pathname + url.search;
      previewImage.alt = 'Page ' + (current + 1) + ' as the partner gets it';
      previewPage.value = String(current + 1);
    }
  }

  function setTool(kind) {
    tool = kind;
    tools.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.tool === kind)); });
    root.classList.toggle('ze-drawing', !!kind);
  }

  function add(z) {
    if (zones.length >= options.max_zones) {
      window.alert('An asset can have at most ' + options.max_zones + ' boxes.');
      return -1;
    }
    zones.push(z);
    selected = zones.length - 1;
    changed();
    render();
    return selected;
  }

  function remove(index) {
    zones.splice(index, 1);
    // Server errors name zones by position; once the list shifts they no longer match.
    serverErrors = [];
    selected = -1;
    changed();
    render();
  }

  /* ---- pointer: draw, move, resize ---------------------------------------------------- */

  function pointIn(layer, event) {
    var rect = layer.getBoundingClientRect();
    var s = sizes[parseInt(layer.dataset.page, 10)];
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1) * s[0],
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1) * s[1],
      cx: event.clientX, cy: event.clientY
    };
  }

  function onPointerDown(event) {
    if (!editable || event.button !== 0) return;
    var layer = event.currentTarget;
    var page = parseInt(layer.dataset.page, 10);
    var handle = event.target.closest('.ze-handle');
    var zoneEl = event.target.closest('.ze-zone');
    var at = pointIn(layer, event);
    if (zoneEl && !tool) {
      var index = parseInt(zoneEl.dataset.index, 10);
      if (index !== selected) select(index);
      if (zoneEls[index]) zoneEls[index].focus({ preventScroll: true });
      drag = { mode: handle ? 'resize' : 'move', handle: handle && handle.dataset.handle,
        index: index, start: at, from: Object.assign({}, zones[index]), moved: false };
    } else if (tool) {
      drag = { mode: 'draw', kind: tool, page: page, index: -1, start: at, moved: false };
    } else {
      drag = { mode: 'none', start: at, moved: false };
    }
    drag.layer = layer;
    layer.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  function onPointerMove(event) {
    if (!drag || drag.layer !== event.currentTarget) return;
    var at = pointIn(drag.layer, event);
    if (!drag.moved) {
      if (Math.abs(at.cx - drag.start.cx) < DRAG_THRESHOLD &&
          Math.abs(at.cy - drag.start.cy) < DRAG_THRESHOLD) return;
      drag.moved = true;
      if (drag.mode === 'draw') {
        drag.index = add(newZone(drag.kind, drag.page, { x: at.x, y: at.y, width: 1, height: 1 }));
        if (drag.index < 0) { drag = null; return; }
      }
    }
    var page = drag.mode === 'draw' ? drag.page : zones[drag.index] && zones[drag.index].page;
    if (page == null) return;
    var s = sizes[page];
    var z = zones[drag.index];
    if (drag.mode === 'draw') {
      z.x = Math.min(drag.start.x, at.x);
      z.y = Math.min(drag.start.y, at.y);
      z.width = Math.abs(at.x - drag.start.x);
      z.height = Math.abs(at.y - drag.start.y);
    } else if (drag.mode === 'move') {
      z.x = clamp(drag.from.x + at.x - drag.start.x, 0, s[0] - drag.from.width);
      z.y = clamp(drag.from.y + at.y - drag.start.y, 0, s[1] - drag.from.height);
    } else if (drag.mode === 'resize') {
      resize(z, drag.from, drag.handle, at.x - drag.start.x, at.y - drag.start.y, s);
    } else {
      return;
    }
    update(drag.index);
  }

  function resize(z, from, handle, dx, dy, s) {
    var min = minSide(z.page);
    var left = from.x, top = from.y, right = from.x + from.width, bottom = from.y + from.height;
    if (handle.indexOf('w') >= 0) left = clamp(left + dx, 0, right - min);
    if (handle.indexOf('e') >= 0) right = clamp(right + dx, left + min, s[0]);
    if (handle.indexOf('n') >= 0) top = clamp(top + dy, 0, bottom - min);
    if (handle.indexOf('s') >= 0) bottom = clamp(bottom + dy, top + min, s[1]);
    z.x = left; z.y = top; z.width = right - left; z.height = bottom - top;
  }

  function onPointerUp(event) {
    if (!drag || drag.layer !== event.currentTarget) return;
    var done = drag;
    drag = null;
    if (done.layer.hasPointerCapture(event.pointerId)) {
      done.layer.releasePointerCapture(event.pointerId);
    }
    if (event.type === 'pointercancel') { render(); return; }
    if (done.mode === 'draw') {
      if (!done.moved) {
        // A tap or click with a tool chosen: a box of a sensible size centred there.
        var s = sizes[done.page];
        var w = s[0] * 0.3, h = s[1] * (done.kind === 'logo' ? 0.08 : 0.06);
        add(newZone(done.kind, done.page, {
          x: clamp(done.start.x - w / 2, 0, s[0] - w), y: clamp(done.start.y - h / 2, 0, s[1] - h),
          width: w, height: h }));
      } else if (zones[done.index]) {
        var z = zones[done.index];
        var min = minSide(z.page);
        z.width = Math.max(z.width, min);
        z.height = Math.max(z.height, min);
        z.x = Math.min(z.x, sizes[z.page][0] - z.width);
        z.y = Math.min(z.y, sizes[z.page][1] - z.height);
      }
      setTool(null);
      render();
      var first = $('ze-kind');
      if (first && done.moved) first.focus({ preventScroll: true });
      return;
    }
    if (done.mode === 'none' && !done.moved) select(-1);
    else if (done.moved) render(true);
  }

  /* ---- keyboard on a box -------------------------------------------------------------- */

  function onKeyDown(event) {
    var el = event.target.closest && event.target.closest('.ze-zone');
    if (!el || !editable) return;
    var index = parseInt(el.dataset.index, 10);
    var z = zones[index];
    var s = sizes[z.page];
    var step = event.shiftKey ? Math.max(10, s[0] / 50) : 1;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step],
      ArrowDown: [0, step] };
    if (moves[event.key]) {
      if (index !== selected) select(index);
      if (zoneEls[index] && document.activeElement !== zoneEls[index]) zoneEls[index].focus();
      z.x = clamp(z.x + moves[event.key][0], 0, s[0] - z.width);
      z.y = clamp(z.y + moves[event.key][1], 0, s[1] - z.height);
      update(index);
      event.preventDefault();
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      remove(index);
      // Focus stays near: the next box on this page, else the first drawing tool.
      var next = zoneEls.filter(function (e) { return e && e.parentNode === el.parentNode; })[0];
      if (next || tools[0]) (next || tools[0]).focus();
      event.preventDefault();
    } else if (event.key === 'Enter' || event.key === ' ') {
      select(index);
      var first = $('ze-kind');
      if (first) first.focus();
      event.preventDefault();
    }
  }

  /* ---- the form ------------------------------------------------------------------------ */

  function onFieldInput(event) {
    var input = event.target;
    var z = zones[selected];
    if (!z) return;
    var name = input.dataset.field;
    if (name === 'page') {
      var page = clampPage(parseInt(input.value, 10));
      var s = sizes[page];
      z.page = page;
      z.width = Math.min(z.width, s[0]);
      z.height = Math.min(z.height, s[1]);
      z.x = clamp(z.x, 0, s[0] - z.width);
      z.y = clamp(z.y, 0, s[1] - z.height);
      current = page;
      changed();
      render();
      return;
    }
    if (input.type === 'number') {
      var value = parseFloat(input.value);
      if (!isFinite(value)) return; // half-typed; keep the last good number
      z[name] = value;
    } else {
      z[name] = input.value;
    }
    serverErrors = serverErrors.filter(function (e) {
      return !(e.zone === selected && e.field === name);
    });
    if (name === 'kind') {
      if ((z.kind === 'text' && !z.template) || (z.kind === 'qr' &&
          !/^https?:/.test(z.template || ''))) {
        Object.assign(z, newZone(z.kind, z.page, z));
      }
      changed();
      render();
      return;
    }
    if (zoneEls[selected]) {
      var el = zoneEls[selected];
      if (name === 'template' && z.kind === 'text') {
        el.querySelector('.ze-label').textContent = z.template;
      }
      el.setAttribute('aria-label', 'Box ' + (selected + 1) + ', ' + describe(z) + '.');
    }
    update(selected);
    renderList();
  }

  function insertToken(event) {
    var token = event.target.value;
    if (!token) return;
    var area = $('ze-template');
    var text = '{{ partner.' + token + ' }}';
    var start = area.selectionStart == null ? area.value.length : area.selectionStart;
    var end = area.selectionEnd == null ? start : area.selectionEnd;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    event.target.value = '';
    area.focus();
    area.setSelectionRange(start + text.length, start + text.length);
    area.dispatchEvent(new Event('input', { bubbles: true }));
  }

  /* ---- wiring ---------------------------------------------------------------------------- */

  var problem = load(textarea.value);
  if (problem && jsonError) { jsonError.textContent = problem; jsonError.hidden = false; }
  root.querySelector('.ze-toolbar').hidden = false;

  layers.forEach(function (layer) {
    layer.addEventListener('pointerdown', onPointerDown);
    layer.addEventListener('pointermove', onPointerMove);
    layer.addEventListener('pointerup', onPointerUp);
    layer.addEventListener('pointercancel', onPointerUp);
    layer.addEventListener('keydown', onKeyDown);
    layer.addEventListener('focusin', function (event) {
      var el = event.target.closest('.ze-zone');
      var index = el ? parseInt(el.dataset.index, 10) : -1;
      if (el && index !== selected) { selected = index; render(true); }
    });
  });
  if (pageSelect) {
    pageSelect.addEventListener('change', function () { goTo(parseInt(pageSelect.value, 10)); });
  }
  root.querySelectorAll('[data-ze]').forEach(function (b) {
    b.addEventListener('click', function () { goTo(current + (b.dataset.ze === 'next' ? 1 : -1)); });
  });
  tools.forEach(function (button) {
    button.addEventListener('click', function (event) {
      var kind = button.dataset.tool;
      if (event.detail === 0) {
        // From the keyboard: no drawing, a box in the middle of the page, then its form.
        var s = sizes[current];
        var w = s[0] * 0.4, h = s[1] * (kind === 'logo' ? 0.1 : 0.08);
        if (add(newZone(kind, current, { x: (s[0] - w) / 2, y: (s[1] - h) / 2, width: w,
          height: h })) >= 0) $('ze-kind').focus();
        setTool(null);
        return;
      }
      setTool(tool === kind ? null : kind);
    });
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && tool) setTool(null);
  });
  fields.forEach(function (input) {
    input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', onFieldInput);
    input.addEventListener('change', function () { renderForm(); });
  });
  var token = $('ze-token');
  if (token) token.addEventListener('change', insertToken);
  var del = $('ze-delete');
  if (del) {
    del.addEventListener('click', function () {
      if (selected < 0) return;
      remove(selected);
      if (tools[0]) tools[0].focus(); // the form it was in is gone
    });
  }
  textarea.addEventListener('input', function () {
    var err = load(textarea.value);
    if (jsonError) { jsonError.textContent = err || ''; jsonError.hidden = !err; }
    if (err) return;
    serverErrors = [];
    selected = -1;
    dirty = true;
    if (dirtyNote) dirtyNote.textContent = 'Unsaved changes';
    render();
  });
  var saveForm = $('zones-form');
  if (saveForm) {
    saveForm.addEventListener('submit', function () {
      if (!jsonError || jsonError.hidden) sync();
      dirty = false;
    });
  }
  window.addEventListener('beforeunload', function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ''; }
  });
  // Boxes' text is drawn to scale, which needs the page's size on screen: re-place the boxes
  // (the same elements, so focus and a drag in progress survive) when that size changes.
  function relayout() {
    zoneEls.forEach(function (el, i) { if (el && zones[i]) place(el, zones[i]); });
  }
  window.addEventListener('resize', relayout);
  figures.forEach(function (f) {
    var img = f.querySelector('img');
    if (img && !img.complete) img.addEventListener('load', relayout);
  });

  if (serverErrors.length) {
    var firstBad = serverErrors.find(function (e) { return e.zone != null && zones[e.zone]; });
    if (firstBad) { selected = firstBad.zone; current = zones[firstBad.zone].page; dirty = true; }
  }
  render();
})();
