import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrf } from './api.js';
import { Decisions } from './decisions.js';
import { Overview } from './overview.js';
import { Playground } from './playground.js';
import { Review } from './review.js';
import { attempt, ErrorNote } from './ui.js';

const PAGES = [
  ['overview', 'Overview'],
  ['decisions', 'Decisions'],
  ['playground', 'Policy playground'],
  ['review', 'Review'],
] as const;
type PageId = (typeof PAGES)[number][0];

const pageOf = (): { page: PageId; arg: string } => {
  const [page, arg = ''] = location.hash.replace(/^#\/?/, '').split('/');
  return { page: PAGES.some(([id]) => id === page) ? (page as PageId) : 'overview', arg: decodeURIComponent(arg) };
};

function Login({ onIn }: { onIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      const s = await api<{ csrf: string }>('login', { key });
      setKey('');
      setCsrf(s.csrf);
      onIn();
    }, setError);
  };
  return html`<main class="login">
    <h1>Gateway console</h1>
    <form onSubmit=${submit}>
      <label for="key">Admin key</label>
      <input
        id="key"
        name="key"
        type="password"
        autocomplete="off"
        value=${key}
        onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)}
        required
      />
      <button type="submit">Log in</button>
    </form>
    <${ErrorNote} error=${error} />
    <p class="muted">The key opens a session held by the gateway; the browser keeps only an HttpOnly cookie.</p>
  </main>`;
}

function App() {
  const [state, setState] = useState<'checking' | 'out' | 'in'>('checking');
  const [{ page, arg }, setRoute] = useState(pageOf());
  useEffect(() => {
    api<{ authenticated: boolean; csrf?: string }>('session')
      .then((s) => {
        setCsrf(s.csrf ?? '');
        setState(s.authenticated ? 'in' : 'out');
      })
      .catch(() => setState('out'));
    const onHash = () => setRoute(pageOf());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  if (state === 'checking') return html`<p class="boot">Loading…</p>`;
  if (state === 'out') return html`<${Login} onIn=${() => setState('in')} />`;
  const logout = () => void api('logout', {}).finally(() => setState('out'));
  const onAuthError = (e: unknown) => {
    if (e instanceof ApiError && e.status === 401) setState('out');
  };
  return html`<div class="shell">
    <header>
      <strong class="brand">Gateway console</strong>
      <nav aria-label="Pages">
        ${PAGES.map(
          ([id, label]) => html`<a href=${`#/${id}`} aria-current=${id === page ? 'page' : undefined}>${label}</a>`,
        )}
      </nav>
      <button class="link" onClick=${logout}>Log out</button>
    </header>
    <main id="page">
      ${page === 'overview' && html`<${Overview} onAuthError=${onAuthError} />`}
      ${page === 'decisions' && html`<${Decisions} openId=${arg} />`}
      ${page === 'playground' && html`<${Playground} decisionId=${arg} />`} ${page === 'review' && html`<${Review} />`}
    </main>
  </div>`;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
