// Conversations live only in this browser (localStorage), never on the server.
const STORAGE = 'inferenceserver.conversations';

export function loadConversations() {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE) || '[]');
    return Array.isArray(list) ? list.filter(isConversation) : [];
  } catch {
    return [];
  }
}

export function saveConversations(list) {
  localStorage.setItem(STORAGE, JSON.stringify(list));
}

export function newConversation(messages = [], title = 'New chat') {
  const now = Date.now();
  return { id: crypto.randomUUID(), title, created: now, updated: now, messages };
}

/** Conversations from an exported file (one conversation or a list), given new ids so none overwrites another. */
export function parseImport(text) {
  const parsed = JSON.parse(text);
  const list = (Array.isArray(parsed) ? parsed : parsed?.conversations ?? [parsed]).filter(isConversation);
  if (list.length === 0) throw new Error('The file holds no conversations.');
  return list.map(c => ({
    ...newConversation(c.messages.filter(isMessage).map(m => ({ ...m, content: String(m.content ?? '') })), String(c.title || 'Imported chat')),
    created: Number(c.created) || Date.now(),
  }));
}

export function exportJson(list) {
  return JSON.stringify({ format: 'inferenceserver-conversations', version: 1, conversations: list }, null, 2);
}

function isConversation(c) { return c && typeof c === 'object' && Array.isArray(c.messages); }
function isMessage(m) { return m && typeof m === 'object' && ['system', 'user', 'assistant', 'tool'].includes(m.role); }
