// /projects: each project's git URL, rules and defaults, the webhook URLs
// to paste into the git host, and its releases with release.yaml links.
// Hidden gracefully when the server does not serve projects (404).
import { downloadLink, optionalJSON } from './api.js';
import { copyButton, errorText, h, stateBadge } from './util.js';

const HOSTS = [['github', 'GitHub'], ['gitlab', 'GitLab'], ['gitea', 'Gitea / Forgejo']];

const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

// {"on": "tag", "tags": ["v*"], "resolve": {"files": ["config/"]}} ->
// "on tag v*: resolve config/"; unknown keys are shown as they are.
function describeRule(rule) {
  if (!rule || typeof rule !== 'object') return String(rule);
  const { on, branches, tags, build, resolve, ...rest } = rule;
  const when = [on ? `on ${on}` : 'on any event', branches && `to ${[].concat(branches).join(', ')}`,
    tags && [].concat(tags).join(', ')].filter(Boolean).join(' ');
  const what = [
    build && `build ${[].concat(build.importpaths || []).join(' ') || text(build)}`,
    resolve && `resolve ${[].concat(resolve.files || []).join(' ') || (resolve.yaml ? 'inline YAML' : text(resolve))}`,
    ...Object.entries(rest).map(([k, v]) => `${k}: ${text(v)}`),
  ].filter(Boolean).join('; ');
  return what ? `${when}: ${what}` : when;
}

function releaseURL(project, tag) {
  return `/v1/projects/${encodeURIComponent(project)}/releases/${encodeURIComponent(tag)}/release.yaml`;
}

function releasesList(project, releases) {
  if (!releases.length) return h('p', { class: 'muted' }, 'No releases yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'releases' },
    h('caption', { class: 'sr-only' }, `Releases of ${project}`),
    h('thead', {}, h('tr', {}, ['Tag', 'State', 'Job', 'release.yaml'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, releases.map((r) => h('tr', {},
      h('th', { scope: 'row', class: 'mono' }, r.tag),
      h('td', {}, r.state ? stateBadge(r.state) : '—'),
      h('td', {}, r.job_id ? h('a', { href: `/resolves/${r.job_id}`, dataset: { nav: '' } }, `resolve ${r.job_id}`) : '—'),
      h('td', {}, r.state === 'succeeded' || !r.state
        ? downloadLink(releaseURL(project, r.tag), `${project}-${r.tag}.yaml`, 'Download')
        : '—'))))));
}

function projectCard(p) {
  const releases = h('div', {}, h('p', { class: 'muted' }, 'Loading releases…'));
  (async () => {
    try {
      const body = await optionalJSON(`/v1/projects/${encodeURIComponent(p.name)}/releases`);
      releases.replaceChildren(body ? releasesList(p.name, body.releases || body.items || []) : h('p', { class: 'muted' }, 'Releases are not served here.'));
    } catch (e) {
      releases.replaceChildren(h('p', { role: 'alert' }, `Cannot list releases: ${errorText(e)}`));
    }
  })();
  const rules = Array.isArray(p.rules) ? p.rules : [];
  const defaults = p.defaults && typeof p.defaults === 'object' ? Object.entries(p.defaults) : [];
  const headingId = `project-${p.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return h('article', { class: 'card project', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, p.name),
    h('p', {}, 'Git: ', h('code', {}, (p.git && p.git.url) || '—')),
    h('h3', {}, 'Rules'),
    rules.length ? h('ul', {}, rules.map((r) => h('li', { class: 'mono' }, describeRule(r)))) : h('p', { class: 'muted' }, 'No rules.'),
    defaults.length ? [h('h3', {}, 'Build defaults'), h('dl', { class: 'kv' }, defaults.map(([k, v]) =>
      [h('dt', {}, k), h('dd', { class: 'mono' }, text(v))]))] : null,
    h('h3', {}, 'Webhook URL'),
    h('p', { class: 'muted' }, 'Paste the one for your git host into its webhook settings, with the project\'s secret.'),
    h('ul', { class: 'hooks' }, HOSTS.map(([host, label]) => {
      const url = `${location.origin}/v1/hooks/${host}/${encodeURIComponent(p.name)}`;
      return h('li', {}, h('span', { class: 'hook-host' }, label), h('code', {}, url), copyButton(url, `${label} webhook URL`));
    })),
    h('h3', {}, 'Releases'),
    h('p', {}, downloadLink(releaseURL(p.name, 'latest'), `${p.name}-latest.yaml`, 'Latest release.yaml')),
    releases);
}

export function renderProjects(main) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Projects'), body);
  let stopped = false;
  (async () => {
    try {
      const list = await optionalJSON('/v1/projects');
      if (stopped) return;
      if (!list) {
        body.replaceChildren(h('p', {}, 'This server does not serve projects. Builds are on the ',
          h('a', { href: '/', dataset: { nav: '' } }, 'jobs page'), '.'));
        return;
      }
      const projects = list.projects || list.items || [];
      body.replaceChildren(...(projects.length ? projects.map(projectCard)
        : [h('p', { class: 'muted' }, 'No projects yet: an admin creates them with POST /v1/projects.')]));
    } catch (e) {
      if (!stopped) body.replaceChildren(h('p', { role: 'alert' }, `Cannot list projects: ${errorText(e)}`));
    }
  })();
  return () => { stopped = true; };
}
