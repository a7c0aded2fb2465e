// The page's entry: the token field and the routes, on location.pathname
// (no hash): /, /builds/{id}, /resolves/{id}, /projects. Each view renders
// into <main> and returns a function that stops its polling and streams.
import { getToken, optionalJSON, setToken } from './api.js';
import { clear, flash, h } from './util.js';
import { renderJob } from './job.js';
import { renderList } from './list.js';
import { renderProjects } from './projects.js';

const main = document.getElementById('main');
let stopView = null;

function route(path) {
  let m;
  if (path === '/' || path === '/index.html') return { title: 'Jobs', view: renderList };
  if (path === '/projects') return { title: 'Projects', view: renderProjects };
  if ((m = /^\/(builds|resolves)\/([0-9]+)$/.exec(path))) {
    const kind = m[1] === 'builds' ? 'build' : 'resolve';
    return { title: `${kind} ${m[2]}`, view: (el, nav) => renderJob(el, nav, kind, m[2]) };
  }
  return { title: 'Not found', view: renderNotFound };
}

function renderNotFound(el) {
  el.append(h('h1', {}, 'Not found'), h('p', {}, 'No page here. ', h('a', { href: '/', dataset: { nav: '' } }, 'Back to the jobs.')));
}

function render({ focus = false } = {}) {
  if (stopView) stopView();
  stopView = null;
  flash('');
  clear(main);
  const { title, view } = route(location.pathname);
  document.title = `${title} · kofarm`;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === location.pathname) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  stopView = view(main, navigate) || null;
  if (focus) main.focus();
}

export function navigate(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  render({ focus: true });
}

// Same-origin links marked data-nav change the view without a reload.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-nav]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', () => render({ focus: true }));

function showTokenState() {
  const state = document.getElementById('token-state');
  state.textContent = getToken() ? 'token saved' : 'no token';
}

const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
tokenInput.value = getToken();
tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setToken(tokenInput.value.trim());
  showTokenState();
  render();
});
document.getElementById('token-clear').addEventListener('click', () => {
  tokenInput.value = '';
  setToken('');
  showTokenState();
  render();
});
showTokenState();
render();

// A server without projects (404) does not get the link.
optionalJSON('/v1/projects').then((list) => {
  if (list === null) document.querySelector('nav a[href="/projects"]').parentElement.hidden = true;
}).catch(() => {});
