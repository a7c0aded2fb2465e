// /builds/{id} and /resolves/{id}: one job, polled until it finishes, with
// its log streamed live (GET .../log?follow=1 read chunk by chunk), its
// pushed references and per-platform digests, cancel and retry, and for a
// resolve the release YAML.
import { ApiError, downloadLink, getJSON, postJSON, request } from './api.js';
import {
  clear, copyButton, errorText, flash, formatDuration, formatTime, h, isFinished, jobDuration, jobPath, shortCommit, stateBadge,
} from './util.js';

const POLL_MS = 2000;
const LOG_MAX_CHARS = 8 << 20; // what the page keeps of a huge log
const LOG_RETRY_MS = 1500;

function collection(kind) {
  return kind === 'resolve' ? 'resolves' : 'builds';
}

function dl(entries) {
  return h('dl', { class: 'kv' }, entries.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A spec value as text: lists joined, objects as K=V, the rest as JSON.
function specValue(value) {
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ') : '';
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
  if (value === null || value === undefined) return '';
  return String(value);
}

function sourceEntries(source) {
  if (!source) return [];
  if (source.git) {
    return [['Git URL', h('span', { class: 'mono' }, source.git.url)], ['Ref', source.git.ref], ['Commit', source.git.commit && h('span', { class: 'mono' }, source.git.commit)]];
  }
  if (source.upload) return [['Upload', h('span', { class: 'mono' }, `${source.upload.digest} (${source.upload.size} bytes)`)]];
  return [['Source', JSON.stringify(source)]];
}

function optionsSection(job) {
  const spec = job.spec || {};
  const rest = Object.keys(spec).filter((k) => k !== 'source').sort()
    .map((k) => [k, specValue(spec[k])]);
  const link = (id, kind) => id && h('a', { href: jobPath({ id, kind }), dataset: { nav: '' } }, `${kind} ${id}`);
  return h('section', { 'aria-labelledby': 'options-heading' }, h('h2', { id: 'options-heading' }, 'Options'),
    dl([...sourceEntries(spec.source), ...rest,
      ['project', job.project], ['requested by', job.requested_by], ['attempts', `${job.attempts ?? 0} of ${job.max_attempts ?? '?'}`],
      ['priority', job.priority], ['retry of', link(job.retry_of, job.kind)],
      ['reused result of', link(job.result && job.result.reused_from, job.kind)]]));
}

function timeline(job) {
  const finishedLabel = isFinished(job.state) ? job.state : 'finished';
  const steps = [
    ['queued', 'Queued', job.created_at],
    ['running', 'Running', job.started_at],
    ['finished', finishedLabel[0].toUpperCase() + finishedLabel.slice(1), job.finished_at],
  ];
  const current = isFinished(job.state) ? 'finished' : job.state;
  return h('ol', { class: 'timeline', 'aria-label': 'Timeline' }, steps.map(([key, label, at]) =>
    h('li', { class: `step ${at ? 'done' : 'todo'} ${key === 'finished' ? `end-${job.state}` : ''}`, 'aria-current': key === current ? 'step' : null },
      h('span', { class: 'step-label' }, label),
      h('span', { class: 'step-time' }, at ? h('time', { datetime: at }, formatTime(at)) : '—'))));
}

function imagesSection(job) {
  const images = (job.result && job.result.images) || [];
  if (!images.length) return null;
  return h('section', { 'aria-labelledby': 'images-heading' }, h('h2', { id: 'images-heading' }, 'Pushed images'),
    images.map((img) => h('article', { class: 'image card' },
      h('h3', { class: 'mono' }, img.importpath || img.image || 'image'),
      h('div', { class: 'ref-line' }, h('code', { class: 'reference' }, img.reference), copyButton(img.reference, 'reference')),
      dl([['digest', img.digest && h('span', { class: 'digest-line' }, h('code', { class: 'digest' }, img.digest), copyButton(img.digest, 'digest'))],
        ['tags', (img.tags || []).join(', ')], ['media type', img.media_type]]),
      (img.platforms || []).length ? h('div', { class: 'table-wrap' }, h('table', { class: 'platforms' },
        h('caption', {}, 'Per-platform digests'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'Digest'))),
        h('tbody', {}, img.platforms.map((p) => h('tr', {},
          h('th', { scope: 'row' }, p.platform),
          h('td', {}, h('code', { class: 'digest' }, p.digest), ' ', copyButton(p.digest, `${p.platform} digest`))))))) : null)));
}

// A resolve's result: each ko:// reference and the image it became.
function referencesSection(job) {
  const refs = (job.result && job.result.references) || [];
  if (!refs.length) return null;
  return h('section', { 'aria-labelledby': 'refs-heading' }, h('h2', { id: 'refs-heading' }, 'Resolved references'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'references' },
      h('thead', {}, h('tr', {}, ['Reference', 'Image', 'Digest'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, refs.map((r) => h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, r.ref || r.importpath || ''),
        h('td', {}, h('code', { class: 'reference' }, r.image || ''), r.image && copyButton(r.image, 'image reference')),
        h('td', {}, h('code', { class: 'digest' }, r.digest || ''), r.digest && copyButton(r.digest, 'digest'))))))));
}

function releaseSection(job, signal) {
  const url = `/v1/resolves/${job.id}/release.yaml`;
  const pre = h('pre', { class: 'release', tabindex: '0', 'aria-label': 'release.yaml' }, 'Loading…');
  const link = downloadLink(url, `release-${job.id}.yaml`, 'Download release.yaml', { class: 'button', id: 'release-download' });
  (async () => {
    try {
      pre.textContent = await (await request(url, { headers: { Accept: 'application/yaml' }, signal })).text();
    } catch (e) {
      if (e.name !== 'AbortError') pre.textContent = `The release YAML is not available: ${errorText(e)}`;
    }
  })();
  return h('section', { 'aria-labelledby': 'release-heading' }, h('h2', { id: 'release-heading' }, 'Release'),
    h('p', {}, link), pre);
}

export function renderJob(main, navigate, kind, id) {
  const base = `/v1/${collection(kind)}/${id}`;
  const controller = new AbortController();
  const { signal } = controller;
  let stopped = false;
  let timer = null;
  let shown = '';
  let releaseShown = false;

  const title = h('h1', {}, `${kind} ${id} `, h('span', { id: 'job-state', role: 'status' }));
  const summary = h('p', { class: 'summary muted' });
  const actions = h('div', { class: 'actions' });
  const slots = { timeline: h('div'), error: h('div'), images: h('div'), release: h('div'), options: h('div') };
  const log = h('pre', { id: 'log', class: 'log', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': `Log of ${kind} ${id}` });
  const follow = h('input', { id: 'log-follow', type: 'checkbox', checked: true });
  const logState = h('span', { class: 'muted', id: 'log-state' }, 'connecting…');
  main.append(h('p', {}, h('a', { href: '/', dataset: { nav: '' } }, '← All jobs')), title, summary, actions, slots.timeline,
    slots.error, slots.images, slots.release,
    h('section', { 'aria-labelledby': 'log-heading' },
      h('div', { class: 'log-head' }, h('h2', { id: 'log-heading' }, 'Log'), logState,
        h('span', { class: 'check' }, follow, h('label', { for: 'log-follow' }, 'Scroll with new lines'))), log),
    slots.options);

  // The user scrolling up pauses auto-scroll; back at the bottom resumes it.
  log.addEventListener('scroll', () => {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    if (follow.checked !== atBottom) follow.checked = atBottom;
  });

  async function act(what) {
    flash('');
    try {
      const job = await postJSON(`${base}/${what}`, undefined);
      if (what === 'retry') navigate(jobPath(job));
      else draw(job);
    } catch (e) {
      flash(`Cannot ${what}: ${errorText(e)}`);
    }
  }

  function draw(job) {
    const text = JSON.stringify(job);
    if (text === shown) return;
    shown = text;
    clear(title.lastChild);
    title.lastChild.append(stateBadge(job.state));
    const d = jobDuration(job);
    summary.textContent = [job.project && `project ${job.project}`, job.commit && `commit ${shortCommit(job.commit)}`,
      d !== null && `ran ${formatDuration(d)}`, job.cancel_requested && !isFinished(job.state) && 'cancel requested'].filter(Boolean).join(' · ');
    clear(actions);
    if (!isFinished(job.state)) actions.append(h('button', { type: 'button', id: 'cancel', class: 'danger', onclick: () => act('cancel') }, 'Cancel'));
    if (job.state === 'failed' || job.state === 'canceled') actions.append(h('button', { type: 'button', id: 'retry', onclick: () => act('retry') }, 'Retry'));
    for (const [name, node] of [['timeline', timeline(job)], ['images', job.kind === 'resolve' ? referencesSection(job) : imagesSection(job)], ['options', optionsSection(job)],
      ['error', job.error && h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, job.error.code || 'error'), ': ', job.error.message || '')]]) {
      clear(slots[name]);
      if (node) slots[name].append(node);
    }
    if (job.kind === 'resolve' && job.state === 'succeeded' && !releaseShown) {
      releaseShown = true;
      slots.release.append(releaseSection(job, signal));
    }
  }

  async function refresh() {
    const job = await getJSON(base, { signal });
    draw(job);
    return job;
  }

  async function poll() {
    if (stopped) return;
    try {
      const job = await refresh();
      if (isFinished(job.state)) return;
    } catch (e) {
      if (e.name === 'AbortError') return;
      flash(e instanceof ApiError && e.status === 404 ? `There is no ${kind} ${id}.` : `Cannot read the job: ${errorText(e)}`);
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  function appendLog(text) {
    log.append(document.createTextNode(text));
    if (log.textContent.length > LOG_MAX_CHARS) {
      log.textContent = `[earlier lines dropped by the page]\n${log.textContent.slice(-LOG_MAX_CHARS / 2)}`;
    }
    if (follow.checked) log.scrollTop = log.scrollHeight;
  }

  // Streams the log until the job ends; a dropped stream starts over (the
  // text API has no resume point the page could give).
  async function streamLog() {
    while (!stopped) {
      let ended = false;
      try {
        const resp = await request(`${base}/log?follow=1`, { headers: { Accept: 'text/plain' }, signal });
        log.textContent = '';
        logState.textContent = 'live';
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          appendLog(decoder.decode(value, { stream: true }));
        }
        appendLog(decoder.decode());
        ended = true;
      } catch (e) {
        if (e.name === 'AbortError' || stopped) return;
        logState.textContent = `interrupted: ${errorText(e)}`;
      }
      if (ended) {
        try {
          const job = await refresh();
          if (isFinished(job.state)) {
            logState.textContent = 'complete';
            log.dataset.complete = 'true';
            return;
          }
        } catch (e) {
          if (e.name === 'AbortError') return;
        }
        logState.textContent = 'reconnecting…';
      }
      await new Promise((resolve) => { setTimeout(resolve, LOG_RETRY_MS); });
    }
  }

  poll();
  streamLog();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}
