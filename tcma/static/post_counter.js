// Live character counts in the kit post editor, counted the way campaigns/posts.py counts
// them: tokens filled with the longest partner values, the link and hashtags added, X
// weighted like twitter-text v3 (each URL 23, CJK and emoji 2). The server stays the source
// of truth: saving shows its problems. Plain script, no build step.
(function () {
  'use strict';
  var form = document.getElementById('post-form');
  if (!form) return;
  var longest = JSON.parse(form.getAttribute('data-longest') || '{}');

  var LIGHT = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
  var TLDS = ('com|net|org|info|biz|edu|gov|io|co|ai|app|dev|me|tv|us|uk|de|fr|es|it|nl|eu|' +
    'ch|at|be|se|no|dk|fi|pl|pt|ie|cz|jp|cn|in|au|nz|ca|br|mx|ru|za|sg|hk|kr|tw|ly|online|' +
    'site|tech|cloud|shop|store|blog|news|xyz|link|page|ms|to|fm|gl|gd')
    .split('|').sort(function (a, b) { return b.length - a.length; }).join('|');
  var URL = new RegExp('(?<![A-Za-z0-9@$#./-])(?:(https?:\\/\\/)[^\\s<>"]+' +
    '|((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:' + TLDS + '))(?![A-Za-z0-9-])' +
    '([/?#][^\\s<>"]*)?)', 'gi');
  var SHORT_CC = /^[a-z0-9]{1,2}\.[a-z]{2}$/i;
  var PICTO = '\\u203C\\u2049\\u2122\\u2139\\u2194-\\u2199\\u21A9\\u21AA\\u231A\\u231B\\u2328' +
    '\\u23CF\\u23E9-\\u23F3\\u23F8-\\u23FA\\u24C2\\u25AA\\u25AB\\u25B6\\u25C0\\u25FB-\\u25FE' +
    '\\u2600-\\u27BF\\u2934\\u2935\\u2B05-\\u2B07\\u2B1B\\u2B1C\\u2B50\\u2B55\\u3030\\u303D' +
    '\\u3297\\u3299\\u{1F000}-\\u{1F1E5}\\u{1F200}-\\u{1F3FA}\\u{1F400}-\\u{1FAFF}';
  var ELEMENT = '(?:[' + PICTO + '][\\uFE0F\\u{1F3FB}-\\u{1F3FF}]?|[\\u00A9\\u00AE]\\uFE0F)';
  var EMOJI = new RegExp('\\u{1F3F4}[\\u{E0020}-\\u{E007E}]+\\u{E007F}' +
    '|[\\u{1F1E6}-\\u{1F1FF}]{2}|[0-9#*]\\uFE0F?\\u20E3' +
    '|' + ELEMENT + '(?:\\u200D' + ELEMENT + ')*', 'gu');

  function urlSpans(text) {
    var spans = {};
    var match;
    URL.lastIndex = 0;
    while ((match = URL.exec(text)) !== null) {
      var start = match.index;
      var end = start + match[0].length;
      while (end > start && '.,;:!?\'"'.indexOf(text[end - 1]) >= 0) end--;
      var url = text.slice(start, end);
      if (url.endsWith(')') && url.split('(').length < url.split(')').length) end--;
      if (!match[1] && !match[3] && SHORT_CC.test(match[2])) continue;
      spans[start] = end;
    }
    return spans;
  }

  // Offsets here are UTF-16 indexes (JS strings); each step moves past a whole code point.
  function weightedLength(network, text) {
    text = (text || '').normalize('NFC');
    if (network !== 'x') return Array.from(text).length;
    var urls = urlSpans(text);
    var emoji = {};
    var match;
    EMOJI.lastIndex = 0;
    while ((match = EMOJI.exec(text)) !== null) {
      if (!match[0].length) { EMOJI.lastIndex++; continue; }
      emoji[match.index] = match.index + match[0].length;
    }
    var total = 0;
    var i = 0;
    while (i < text.length) {
      if (urls[i] !== undefined) { total += 23; i = urls[i]; continue; }
      if (emoji[i] !== undefined) { total += 2; i = emoji[i]; continue; }
      var point = text.codePointAt(i);
      var light = LIGHT.some(function (r) { return point >= r[0] && point <= r[1]; });
      total += light ? 1 : 2;
      i += point > 0xffff ? 2 : 1;
    }
    return total;
  }

  function fillTokens(template) {
    var text = template
      .replace(/\{\{\s*partner\.([a-z_]+)[^}]*\}\}/g, function (all, name) {
        return longest[name] || '';
      })
      .replace(/\{%.*?%\}/g, '');
    return text.split(/\r?\n/).map(function (line) {
      return line.replace(/[ \t\u00a0]+/g, ' ').trim();
    }).join('\n').replace(/\n{3,}/g, '\n\n').trim();
  }

  function field(name) { return form.querySelector('[name="' + name + '"]'); }

  function fullText(network, body) {
    var parts = [body];
    var link = (field('link').value || '').trim();
    var image = field('image_asset_id').value;
    if (link && (network === 'x' || image)) parts.push(link);
    var tags = (field('hashtags').value || '').split(/[\s,]+/).filter(Boolean)
      .map(function (t) { return '#' + t.replace(/^#+/, ''); });
    if (tags.length) parts.push(tags.join(' '));
    return parts.filter(Boolean).join('\n\n');
  }

  function update() {
    form.querySelectorAll('textarea[data-network]').forEach(function (area) {
      var network = area.getAttribute('data-network');
      var limit = parseInt(area.getAttribute('data-limit'), 10);
      var out = form.querySelector('[data-count-for="' + network + '"]');
      if (!area.value.trim()) { out.textContent = 'not posted'; out.className = ''; return; }
      var n = weightedLength(network, fullText(network, fillTokens(area.value)));
      out.textContent = n.toLocaleString('en') + ' / ' + limit.toLocaleString('en');
      out.className = n > limit ? 'error-text' : '';
    });
  }

  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
}());
