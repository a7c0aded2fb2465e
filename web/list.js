// "/": builds and resolves, newest first, merged from the collections the
// server answers; filters live in the query string (bookmarkable), pages
// come from the API's next_cursor, and the first page is polled for news.
import { getJSON, jobCollections } from './api.js';
import { STATES, clear, errorText, flash, formatDuration, formatTime, h, jobDuration, jobPath, sourceText, stateBadge } from './util.js';
import { submitForm } from './submit.js';

const PAGE = 20;
const POLL_MS = 3000;

function collection(kind) {
  return kind === 'resolve' ? 'resolves' : 'builds';
}

function readFilters() {
  const q = new URLSearchParams(location.search);
  return { state: q.get('state') || '', project: q.get('project') || '', kind: q.get('kind') || '' };
}

function listURL(kind, filters, cursor) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (filters.state) q.set('state', filters.state);
  if (filters.project) q.set('project', filters.project);
  if (cursor) q.set('cursor', cursor);
  return `/v1/${collection(kind)}?${q}`;
}

function filterForm(filters, kinds, onChange) {
  const state = h('select', { id: 'filter-state', name: 'state' },
    h('option', { value: '' }, 'any state'), STATES.map((s) => h('option', { value: s, selected: s === filters.state }, s)));
  const project = h('input', { id: 'filter-project', name: 'project', type: 'search', value: filters.project, placeholder: 'any project' });
  const kind = kinds.length > 1
    ? h('select', { id: 'filter-kind', name: 'kind' }, h('option', { value: '' }, 'builds and resolves'),
        h('option', { value: 'build', selected: filters.kind === 'build' }, 'builds'),
        h('option', { value: 'resolve', selected: filters.kind === 'resolve' }, 'resolves'))
    : null;
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    h('div', { class: 'field' }, h('label', { for: 'filter-state' }, 'State'), state),
    h('div', { class: 'field' }, h('label', { for: 'filter-project' }, 'Project'), project),
    kind && h('div', { class: 'field' }, h('label', { for: 'filter-kind' }, 'Kind'), kind),
    h('button', { type: 'submit' }, 'Filter'));
  const apply = (event) => {
    if (event) event.preventDefault();
    onChange({ state: state.value, project: project.value.trim(), kind: kind ? kind.value : '' });
  };
  form.addEventListener('submit', apply);
  state.addEventListener('change', () => apply());
  if (kind) kind.addEventListener('change', () => apply());
  return form;
}

function jobRow(job) {
  const paths = (job.spec && (job.spec.importpaths || job.spec.files)) || [];
  const duration = jobDuration(job);
  return h('tr', { dataset: { id: String(job.id), kind: job.kind } },
    h('td', { 'data-label': 'Job' }, h('a', { href: jobPath(job), dataset: { nav: '' } }, `${job.kind} ${job.id}`)),
    h('td', { 'data-label': 'State' }, stateBadge(job.state)),
    h('td', { 'data-label': 'Project' }, job.project || '—'),
    h('td', { 'data-label': 'Source', class: 'mono' }, sourceText(job) || '—'),
    h('td', { 'data-label': 'Import paths', class: 'mono' }, paths.join(' ') || '—'),
    h('td', { 'data-label': 'Duration' }, duration === null ? '—' : formatDuration(duration)),
    h('td', { 'data-label': 'Requested by' }, job.requested_by || '—'),
    h('td', { 'data-label': 'Created' }, h('time', { datetime: job.created_at }, formatTime(job.created_at))));
}

export function renderList(main, navigate) {
  const filters = readFilters();
  const jobs = new Map(); // id -> job (ids are shared by every kind)
  const cursors = {};     // kind -> next_cursor (null: no more)
  let stopped = false;
  let timer = null;
  const controller = new AbortController();

  const tbody = h('tbody');
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load older jobs');
  const table = h('table', { class: 'jobs' },
    h('caption', { class: 'sr-only' }, 'Jobs, newest first'),
    h('thead', {}, h('tr', {}, ['Job', 'State', 'Project', 'Source', 'Import paths', 'Duration', 'Requested by', 'Created']
      .map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const filterSlot = h('div');
  main.append(h('h1', {}, 'Jobs'), submitForm(navigate), h('section', { 'aria-labelledby': 'jobs-heading' },
    h('h2', { id: 'jobs-heading' }, 'Builds and resolves'), filterSlot, h('div', { class: 'table-wrap' }, table), status, more));

  function draw() {
    clear(tbody);
    const rows = [...jobs.values()].sort((a, b) => b.id - a.id);
    for (const job of rows) tbody.append(jobRow(job));
    const summary = rows.length ? `${rows.length} job${rows.length === 1 ? '' : 's'} shown` : 'No jobs match.';
    if (status.textContent !== summary) status.textContent = summary; // a live region: speak changes only
    more.hidden = !Object.values(cursors).some(Boolean);
  }

  async function load(kinds, older) {
    const pages = await Promise.all(kinds.map(async (kind) => {
      if (older && !cursors[kind]) return null;
      const page = await getJSON(listURL(kind, filters, older ? cursors[kind] : null), { signal: controller.signal });
      return { kind, page };
    }));
    for (const entry of pages) {
      if (!entry) continue;
      for (const job of entry.page.items || []) jobs.set(job.id, job);
      // A refresh of the first page must not lose the place of older pages.
      if (older || !(entry.kind in cursors)) cursors[entry.kind] = entry.page.next_cursor;
    }
    draw();
  }

  (async () => {
    let kinds;
    try {
      kinds = await jobCollections();
    } catch {
      kinds = ['build'];
    }
    if (stopped) return;
    filterSlot.append(filterForm(filters, kinds, (next) => {
      const q = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
      navigate(q.toString() ? `/?${q}` : '/');
    }));
    const shown = filters.kind && kinds.includes(filters.kind) ? [filters.kind] : kinds;
    more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        await load(shown, true);
      } catch (e) {
        if (e.name !== 'AbortError') flash(errorText(e));
      }
      more.disabled = false;
    });
    const poll = async () => {
      if (stopped) return;
      if (!document.hidden) {
        try {
          await load(shown, false);
          flash('');
        } catch (e) {
          if (e.name === 'AbortError') return;
          flash(`Cannot list jobs: ${errorText(e)}`);
          status.textContent = '';
        }
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    poll();
  })();

  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}
