// DOM and formatting helpers shared by the views. Text always goes in as
// text nodes (never innerHTML), so API data cannot inject markup.

// h('a', {href: '/x', class: 'y', onclick: fn}, 'text', child...)
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

export const STATES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
const ICONS = { queued: '◷', running: '▶', succeeded: '✓', failed: '✗', canceled: '⊘' };

export function isFinished(state) {
  return state === 'succeeded' || state === 'failed' || state === 'canceled';
}

// The state as colour, icon and word (the colour never carries it alone).
export function stateBadge(state) {
  return h('span', { class: `state state-${state}`, dataset: { state } },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICONS[state] || '?'), ' ', state);
}

export function shortCommit(commit) {
  return commit ? commit.slice(0, 12) : '';
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Run time: the result's, else from the timestamps (running: until now).
export function jobDuration(job) {
  if (job.result && typeof job.result.duration_ms === 'number') return job.result.duration_ms;
  if (!job.started_at) return null;
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  return end - Date.parse(job.started_at);
}

// "main @ 0123abcd", "upload sha256:…" or "": where the source came from.
export function sourceText(job) {
  const src = (job.spec && job.spec.source) || {};
  const commit = shortCommit(job.commit || (job.result && job.result.commit) || (src.git && src.git.commit));
  if (src.git) return [src.git.ref || '', commit ? `@ ${commit}` : ''].filter(Boolean).join(' ');
  if (src.upload) return `upload ${shortCommit(src.upload.digest.replace(/^sha256:/, ''))}`;
  return commit;
}

export function jobPath(job) {
  return `/${job.kind === 'resolve' ? 'resolves' : 'builds'}/${job.id}`;
}

async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http to another host: the old way still works on a click.
  const area = h('textarea', { readonly: true, class: 'offscreen', 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

// A button copying text; it says "Copied" (and data-copied) for a moment.
export function copyButton(text, what) {
  const button = h('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${what}`, dataset: { copy: text } },
    'Copy');
  button.addEventListener('click', async () => {
    try {
      await writeClipboard(text);
      button.textContent = 'Copied';
      button.dataset.copied = 'true';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  return button;
}

// The flash region under the header: one message at a time.
export function flash(message, kind = 'error') {
  const box = document.getElementById('flash');
  if (!box) return;
  if (!message) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.className = `flash flash-${kind}`;
  box.textContent = message;
  box.hidden = false;
}

export function errorText(e) {
  return typeof e.describe === 'function' ? e.describe() : String(e.message || e);
}
