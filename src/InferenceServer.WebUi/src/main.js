// The playground: conversations (browser storage), streamed chat with stop / regenerate / edit-as-branch,
// settings, per-answer statistics and the status view. Text from the model or from imported files reaches the
// page only through textContent or renderMarkdown (sanitised).
import { Api, ApiError } from './api.js';
import { renderMarkdown } from './markdown.js';
import { exportJson, loadConversations, newConversation, parseImport, saveConversations } from './store.js';

const $ = id => document.getElementById(id);
const SETTINGS_STORAGE = 'inferenceserver.settings';
const THEME_STORAGE = 'inferenceserver.theme';
const MODEL_STORAGE = 'inferenceserver.model';
const NUMBER_SETTINGS = ['temperature', 'top_p', 'top_k', 'min_p', 'max_tokens', 'seed', 'presence_penalty', 'frequency_penalty', 'repetition_penalty'];
const TEXT_SETTINGS = ['system-prompt', 'json-schema', 'tools'];

const api = new Api(askForKey);
const state = {
  conversations: loadConversations(),
  currentId: null,
  generation: null, // { conversationId, controller }
  statusTimer: null,
};

// ---- conversations ----

function current() {
  return state.conversations.find(c => c.id === state.currentId) ?? null;
}

function persist() {
  saveConversations(state.conversations);
  renderConversationList();
}

function openConversation(id) {
  state.currentId = id;
  renderConversationList();
  renderMessages();
  closeSidebarOnPhone();
}

function startNewChat() {
  state.currentId = null;
  renderConversationList();
  renderMessages();
  $('composer-input').focus();
  closeSidebarOnPhone();
}

function renderConversationList() {
  const query = $('search').value.trim().toLowerCase();
  const list = $('conversations');
  list.replaceChildren();
  const matches = state.conversations
    .filter(c => !query || c.title.toLowerCase().includes(query) || c.messages.some(m => String(m.content).toLowerCase().includes(query)))
    .sort((a, b) => b.updated - a.updated);
  for (const conversation of matches) {
    const item = document.createElement('li');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'conversation';
    open.textContent = conversation.title;
    open.title = new Date(conversation.updated).toLocaleString();
    if (conversation.id === state.currentId) open.setAttribute('aria-current', 'true');
    open.addEventListener('click', () => openConversation(conversation.id));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'icon delete';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Delete conversation “${conversation.title}”`);
    remove.addEventListener('click', () => {
      if (!confirm(`Delete “${conversation.title}”?`)) return;
      state.conversations = state.conversations.filter(c => c !== conversation);
      if (state.currentId === conversation.id) state.currentId = null;
      persist();
      renderMessages();
    });
    item.append(open, remove);
    list.append(item);
  }
  if (matches.length === 0 && query) {
    const none = document.createElement('li');
    none.className = 'muted';
    none.textContent = 'No conversation matches.';
    list.append(none);
  }
}

// ---- messages ----

/** Splits a leading <think>…</think> block (models that reason in their content) from the answer. */
function splitThinking(text) {
  const match = /^\s*<think>([\s\S]*?)(?:<\/think>|$)([\s\S]*)$/.exec(text);
  return match ? { reasoning: match[1].trim(), answer: match[2].trimStart() } : { reasoning: '', answer: text };
}

function renderMessages() {
  const conversation = current();
  const list = $('messages');
  list.replaceChildren(...(conversation?.messages ?? []).map((message, index) => messageElement(conversation, message, index)));
  $('empty').hidden = (conversation?.messages.length ?? 0) > 0;
  list.lastElementChild?.scrollIntoView({ block: 'end' });
}

function messageElement(conversation, message, index) {
  const item = document.createElement('li');
  item.className = `message ${message.role}`;
  item.dataset.index = index;
  const header = document.createElement('div');
  header.className = 'message-header';
  const who = document.createElement('span');
  who.className = 'role';
  who.textContent = message.role === 'user' ? 'You' : message.role === 'assistant' ? (message.model || 'Assistant') : message.role;
  header.append(who);
  const isLast = index === conversation.messages.length - 1;
  const busy = state.generation?.conversationId === conversation.id;
  if (message.role === 'user' && !busy) header.append(actionButton('Edit', 'Edit this message and branch from it', () => editMessage(conversation, index, item)));
  if (message.role === 'assistant' && isLast && !busy) header.append(actionButton('Regenerate', 'Regenerate this answer', () => regenerate(conversation)));
  header.append(actionButton('Copy', 'Copy this message', () => navigator.clipboard?.writeText(message.content)));
  item.append(header);

  const { reasoning, answer } = message.role === 'assistant' ? splitThinking(message.content) : { reasoning: '', answer: message.content };
  const thoughts = [message.reasoning, reasoning].filter(Boolean).join('\n\n');
  if (thoughts) {
    const details = document.createElement('details');
    details.className = 'reasoning';
    const summary = document.createElement('summary');
    summary.textContent = message.pending && !answer ? 'Thinking…' : 'Reasoning';
    const body = document.createElement('div');
    body.className = 'markdown';
    body.innerHTML = renderMarkdown(thoughts);
    details.append(summary, body);
    item.append(details);
  }

  const content = document.createElement('div');
  if (message.role === 'assistant') {
    content.className = 'content markdown';
    content.innerHTML = renderMarkdown(answer);
    if (message.pending) content.classList.add('streaming');
  } else {
    content.className = 'content plain';
    content.textContent = answer;
  }
  item.append(content);

  for (const call of message.tool_calls ?? []) item.append(toolCallCard(call));
  if (message.error) {
    const error = document.createElement('p');
    error.className = 'error';
    error.textContent = message.error;
    item.append(error);
  }
  if (message.stats) item.append(statsLine(message.stats));
  return item;
}

function actionButton(text, label, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'action';
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.addEventListener('click', onClick);
  return button;
}

function toolCallCard(call) {
  const card = document.createElement('section');
  card.className = 'tool-call';
  card.setAttribute('aria-label', `Tool call ${call.function?.name ?? ''}`);
  const title = document.createElement('h3');
  title.textContent = `Tool call: ${call.function?.name ?? '(unnamed)'}`;
  const args = document.createElement('pre');
  let text = call.function?.arguments ?? '';
  try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* still streaming, or not JSON: show as sent */ }
  args.textContent = text;
  card.append(title, args);
  return card;
}

function statsLine(stats) {
  const line = document.createElement('p');
  line.className = 'stats';
  const parts = [];
  if (stats.ttftMs != null) parts.push(`TTFT ${Math.round(stats.ttftMs)} ms`);
  if (stats.tokensPerSecond != null) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
  if (stats.usage) {
    const cached = stats.usage.prompt_tokens_details?.cached_tokens;
    parts.push(`prompt ${stats.usage.prompt_tokens}${cached != null ? ` (cached ${cached})` : ''}`);
    parts.push(`completion ${stats.usage.completion_tokens}`);
  } else if (stats.chunks) {
    parts.push(`~${stats.chunks} tokens`);
  }
  if (stats.finish) parts.push(stats.finish);
  line.textContent = parts.join(' · ');
  return line;
}

function editMessage(conversation, index, item) {
  const content = item.querySelector('.content');
  const editor = document.createElement('div');
  editor.className = 'editor';
  const box = document.createElement('textarea');
  box.value = conversation.messages[index].content;
  box.rows = Math.min(12, box.value.split('\n').length + 1);
  box.setAttribute('aria-label', 'Edited message');
  const send = actionButton('Send as a new branch', 'Send the edited message as a new branch', () => {
    const text = box.value.trim();
    if (!text) return;
    const branch = newConversation(
      [...structuredClone(conversation.messages.slice(0, index)), { role: 'user', content: text }],
      `${conversation.title} (branch)`);
    state.conversations.push(branch);
    openConversation(branch.id);
    generate(branch);
  });
  send.classList.add('primary');
  const cancel = actionButton('Cancel', 'Cancel the edit', () => renderMessages());
  box.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); send.click(); }
    if (event.key === 'Escape') { event.stopPropagation(); cancel.click(); }
  });
  editor.append(box, send, cancel);
  content.replaceWith(editor);
  box.focus();
}

function regenerate(conversation) {
  if (conversation.messages.at(-1)?.role === 'assistant') conversation.messages.pop();
  generate(conversation);
}

// ---- generation ----

function readSettings() {
  const body = {};
  for (const name of NUMBER_SETTINGS) {
    const text = $(name).value.trim();
    if (text !== '') body[name] = Number(text);
  }
  const schema = $('json-schema').value.trim();
  if (schema) body.response_format = { type: 'json_schema', json_schema: { name: 'playground', schema: JSON.parse(schema), strict: true } };
  const tools = $('tools').value.trim();
  if (tools) body.tools = JSON.parse(tools);
  return body;
}

async function send(text) {
  let conversation = current();
  if (!conversation) {
    conversation = newConversation([], text.slice(0, 48) || 'New chat');
    state.conversations.push(conversation);
    state.currentId = conversation.id;
  }
  conversation.messages.push({ role: 'user', content: text });
  await generate(conversation);
}

async function generate(conversation) {
  let settings;
  try {
    settings = readSettings();
    $('settings-error').textContent = '';
  } catch (error) {
    $('settings-error').textContent = `Settings: ${error.message}`;
    showSettings(true);
    persist();
    renderMessages();
    return;
  }
  const model = $('model').value;
  const system = $('system-prompt').value.trim();
  const messages = [
    ...(system ? [{ role: 'system', content: system }] : []),
    ...conversation.messages.filter(m => m.role === 'user' || m.role === 'assistant').map(m => ({ role: m.role, content: m.role === 'assistant' ? splitThinking(m.content).answer : m.content })),
  ];
  const answer = { role: 'assistant', content: '', model, pending: true };
  conversation.messages.push(answer);
  conversation.updated = Date.now();
  const controller = new AbortController();
  state.generation = { conversationId: conversation.id, controller };
  setBusy(true);
  persist();
  renderMessages();

  const started = performance.now();
  let firstToken = null;
  let chunks = 0;
  let usage = null;
  let finish = null;
  let frame = 0;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (state.currentId === conversation.id) {
        const index = conversation.messages.indexOf(answer);
        $('messages').children[index]?.replaceWith(messageElement(conversation, answer, index));
        $('messages').lastElementChild?.scrollIntoView({ block: 'end' });
      }
    });
  };
  try {
    for await (const chunk of api.streamChat({ ...settings, model, messages }, controller.signal)) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices ?? []) {
        const delta = choice.delta ?? {};
        if (delta.content || delta.reasoning_content || delta.tool_calls) {
          firstToken ??= performance.now();
          chunks++;
        }
        if (delta.content) answer.content += delta.content;
        if (delta.reasoning_content) answer.reasoning = (answer.reasoning ?? '') + delta.reasoning_content;
        for (const call of delta.tool_calls ?? []) {
          answer.tool_calls ??= [];
          const target = answer.tool_calls[call.index ?? 0] ??= { id: call.id, type: 'function', function: { name: '', arguments: '' } };
          if (call.function?.name) target.function.name += call.function.name;
          if (call.function?.arguments) target.function.arguments += call.function.arguments;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      redraw();
    }
  } catch (error) {
    if (error.name === 'AbortError') finish = 'stopped';
    else answer.error = error instanceof ApiError || error instanceof TypeError ? error.message : String(error);
  } finally {
    const ended = performance.now();
    const generated = usage?.completion_tokens ?? chunks;
    answer.stats = {
      ttftMs: firstToken != null ? firstToken - started : null,
      tokensPerSecond: firstToken != null && generated > 1 && ended > firstToken ? (generated - 1) / ((ended - firstToken) / 1000) : null,
      usage,
      chunks,
      finish,
    };
    delete answer.pending;
    state.generation = null;
    conversation.updated = Date.now();
    setBusy(false);
    persist();
    if (state.currentId === conversation.id) renderMessages();
  }
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop').hidden = !busy;
  // Screen readers announce the finished answer once, not every streamed token.
  $('messages').setAttribute('aria-busy', String(busy));
}

function stop() {
  state.generation?.controller.abort();
}

// ---- models, status, API key ----

async function loadModels() {
  try {
    const { data } = await api.json('v1/models');
    const select = $('model');
    const saved = localStorage.getItem(MODEL_STORAGE);
    select.replaceChildren(...data.map(model => new Option(model.id, model.id)));
    if (data.some(m => m.id === saved)) select.value = saved;
  } catch (error) {
    toast(`Cannot list the models: ${error.message}`);
  }
}

async function loadBanner() {
  try {
    $('demo-banner').hidden = !(await api.json('status')).demo_model;
  } catch { /* the status view reports errors; the banner simply stays hidden */ }
}

function askForKey(reason) {
  const dialog = $('key-dialog');
  $('key-reason').textContent = `${reason} It is kept only in this browser.`;
  $('key-input').value = '';
  dialog.showModal();
  return new Promise(resolve => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'save' ? $('key-input').value.trim() || null : null), { once: true });
  });
}

function showView(status) {
  $('chat-view').hidden = status;
  $('status-view').hidden = !status;
  $('show-chat').setAttribute('aria-pressed', String(!status));
  $('show-status').setAttribute('aria-pressed', String(status));
  clearInterval(state.statusTimer);
  if (status) {
    refreshStatus();
    state.statusTimer = setInterval(refreshStatus, 2000);
  }
}

async function refreshStatus() {
  const container = $('status-models');
  try {
    const status = await api.json('status');
    container.replaceChildren(...status.models.map(statusCard));
    $('status-updated').textContent = `Updated ${new Date().toLocaleTimeString()}${status.demo_model ? ' · serving the built-in demo model' : ''}`;
  } catch (error) {
    $('status-updated').textContent = `Cannot read the status: ${error.message}`;
  }
}

function statusCard(model) {
  const card = document.createElement('section');
  card.className = 'status-card';
  card.setAttribute('aria-label', `Model ${model.id}`);
  const title = document.createElement('h3');
  title.textContent = model.id;
  const facts = document.createElement('dl');
  const fact = (name, value) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    facts.append(dt, dd);
  };
  fact('State', model.loaded ? 'loaded' : 'not loaded');
  if (model.loaded) {
    fact('Running sequences', String(model.running));
    fact('Waiting requests', String(model.waiting));
    const kv = document.createElement('span');
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = model.kv_cells.total;
    meter.value = model.kv_cells.reserved + model.kv_cells.cached;
    meter.setAttribute('aria-label', 'KV cells holding tokens');
    kv.append(meter, `${model.kv_cells.reserved + model.kv_cells.cached} of ${model.kv_cells.total} cells hold tokens: ` +
      `${model.kv_cells.reserved} for running sequences, ${model.kv_cells.cached} for cached prefixes`);
    fact('KV cache', kv);
    const cache = model.prefix_cache;
    fact('Prefix-cache hit rate', cache.queried_tokens ? `${(cache.hit_rate * 100).toFixed(1)}% (${cache.hit_tokens} of ${cache.queried_tokens} prompt tokens)` : 'no prompts yet');
  }
  card.append(title, facts);
  return card;
}

// ---- settings, theme, layout ----

function restoreSettings() {
  const saved = JSON.parse(localStorage.getItem(SETTINGS_STORAGE) || '{}');
  for (const name of [...NUMBER_SETTINGS, ...TEXT_SETTINGS]) {
    if (saved[name] != null) $(name).value = saved[name];
    $(name).addEventListener('change', () => {
      const values = Object.fromEntries([...NUMBER_SETTINGS, ...TEXT_SETTINGS].map(n => [n, $(n).value]));
      localStorage.setItem(SETTINGS_STORAGE, JSON.stringify(values));
    });
  }
}

function showSettings(show) {
  $('settings').hidden = !show;
  $('toggle-settings').setAttribute('aria-expanded', String(show));
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  $('toggle-theme').setAttribute('aria-label', theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme');
}

function closeSidebarOnPhone() {
  document.body.classList.remove('sidebar-open');
  $('toggle-sidebar').setAttribute('aria-expanded', 'false');
}

let toastTimer = 0;
function toast(text) {
  const element = $('toast');
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, 6000);
}

function download(name, text) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ---- wiring ----

function wire() {
  const input = $('composer-input');
  $('composer').addEventListener('submit', event => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.generation) return;
    if (!$('model').value) { toast('No model to send to.'); return; }
    input.value = '';
    send(text);
  });
  input.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  document.addEventListener('keydown', event => {
    if (event.key === 'Escape' && state.generation && !document.querySelector('dialog[open]')) {
      event.preventDefault();
      stop();
    }
  });
  $('stop').addEventListener('click', stop);
  $('new-chat').addEventListener('click', startNewChat);
  $('search').addEventListener('input', renderConversationList);
  $('model').addEventListener('change', () => localStorage.setItem(MODEL_STORAGE, $('model').value));
  $('show-chat').addEventListener('click', () => showView(false));
  $('show-status').addEventListener('click', () => showView(true));
  $('toggle-settings').addEventListener('click', () => showSettings($('settings').hidden));
  $('toggle-theme').addEventListener('click', () => {
    const theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_STORAGE, theme);
    applyTheme(theme);
  });
  $('toggle-sidebar').addEventListener('click', () => {
    const open = document.body.classList.toggle('sidebar-open');
    $('toggle-sidebar').setAttribute('aria-expanded', String(open));
  });
  $('set-key').addEventListener('click', async () => {
    const key = await askForKey(api.key ? 'Replace the API key.' : 'Set the API key this server expects.');
    if (key) { api.key = key; loadModels(); loadBanner(); }
  });
  $('key-form').addEventListener('submit', event => {
    const save = event.submitter?.value === 'save';
    if (save && !$('key-input').value.trim()) { event.preventDefault(); return; }
    event.preventDefault();
    $('key-dialog').close(save ? 'save' : 'cancel');
  });
  $('export').addEventListener('click', () => download(`conversations-${new Date().toISOString().slice(0, 10)}.json`, exportJson(state.conversations)));
  $('import').addEventListener('change', async event => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    try {
      const imported = parseImport(await file.text());
      state.conversations.push(...imported);
      persist();
      openConversation(imported[0].id);
      toast(`Imported ${imported.length} conversation${imported.length === 1 ? '' : 's'}.`);
    } catch (error) {
      toast(`Cannot import ${file.name}: ${error.message}`);
    }
  });
  $('messages').addEventListener('click', event => {
    const button = event.target.closest('.copy-code');
    if (button) navigator.clipboard?.writeText(button.parentElement.querySelector('code').textContent);
  });
}

applyTheme(localStorage.getItem(THEME_STORAGE) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
restoreSettings();
wire();
// An answer that was streaming when the page closed ends where it stopped.
for (const message of state.conversations.flatMap(c => c.messages)) delete message.pending;
state.currentId = [...state.conversations].sort((a, b) => b.updated - a.updated)[0]?.id ?? null;
renderConversationList();
renderMessages();
loadModels().then(loadBanner);
