// The form that submits a build of a git repository (POST /v1/builds with
// JSON); on success the job's page opens. Needs a token with build scope.
import { getToken, postJSON } from './api.js';
import { errorText, h } from './util.js';

// "a, b c" -> ["a", "b", "c"]
function words(text) {
  return text.split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}

function field(id, label, input, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint && h('small', { id: hintId, class: 'muted' }, hint));
}

export function buildRequest(values) {
  const git = { url: values.url.trim() };
  if (values.ref.trim()) git.ref = values.ref.trim();
  if (values.commit.trim()) git.commit = values.commit.trim();
  const body = { source: { git }, importpaths: words(values.importpaths) };
  const platforms = words(values.platforms);
  if (platforms.length) body.platforms = platforms;
  const tags = words(values.tags);
  if (tags.length) body.tags = tags;
  if (values.repo.trim()) body.repo = values.repo.trim();
  if (values.project.trim()) body.project = values.project.trim();
  if (values.no_cache) body.no_cache = true;
  return body;
}

export function submitForm(navigate) {
  const input = (id, attrs = {}) => h('input', { id, name: id.replace(/^submit-/, ''), type: 'text', spellcheck: 'false', ...attrs });
  const url = input('submit-url', { required: true, type: 'text', placeholder: 'https://git.example.com/team/app.git', autocomplete: 'url' });
  const ref = input('submit-ref', { placeholder: 'main' });
  const commit = input('submit-commit', { placeholder: '40 hex digits', pattern: '[0-9a-f]{40}|[0-9a-f]{64}' });
  const importpaths = input('submit-importpaths', { required: true, value: './cmd/app' });
  const platforms = input('submit-platforms', { placeholder: 'linux/amd64,linux/arm64' });
  const tags = input('submit-tags', { placeholder: 'latest' });
  const repo = input('submit-repo', { placeholder: "the server's default" });
  const project = input('submit-project');
  const noCache = h('input', { id: 'submit-no-cache', name: 'no_cache', type: 'checkbox' });
  const message = h('p', { class: 'form-message', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Submit build');

  const form = h('form', { class: 'submit', 'aria-labelledby': 'submit-heading', novalidate: true },
    h('div', { class: 'grid' },
      field('submit-url', 'Git URL', url),
      field('submit-ref', 'Branch, tag or ref', ref),
      field('submit-commit', 'Commit (optional)', commit),
      field('submit-importpaths', 'Import paths', importpaths, 'relative to the repository root, separated by spaces or commas'),
      field('submit-platforms', 'Platforms', platforms, 'empty: the default; "all": every platform of the base'),
      field('submit-tags', 'Tags', tags),
      field('submit-repo', 'Repository', repo),
      field('submit-project', 'Project', project)),
    h('div', { class: 'check' }, noCache, h('label', { for: 'submit-no-cache' }, 'Build again even when an identical build succeeded')),
    h('div', { class: 'actions' }, button, message));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    if (!form.checkValidity()) {
      const bad = form.querySelector(':invalid');
      message.textContent = `${form.querySelector(`label[for="${bad.id}"]`).textContent}: ${bad.validationMessage}`;
      bad.focus();
      return;
    }
    if (!getToken()) {
      message.textContent = 'Submitting needs an API token with the build scope: enter it above.';
      document.getElementById('token').focus();
      return;
    }
    button.disabled = true;
    try {
      const job = await postJSON('/v1/builds', buildRequest({
        url: url.value, ref: ref.value, commit: commit.value, importpaths: importpaths.value, platforms: platforms.value,
        tags: tags.value, repo: repo.value, project: project.value, no_cache: noCache.checked,
      }));
      navigate(`/builds/${job.id}`);
    } catch (e) {
      message.textContent = `The build was not submitted: ${errorText(e)}`;
      button.disabled = false;
    }
  });

  return h('section', { class: 'card' },
    h('details', { class: 'submit-details' },
      h('summary', {}, h('h2', { id: 'submit-heading' }, 'Build from a git repository')), form));
}
