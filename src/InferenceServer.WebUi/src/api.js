// The server's API as the playground uses it: the key from browser storage on every call, a 401 asks the user
// for a key (once at a time) and retries, and chat completions stream as parsed SSE chunks.
const KEY_STORAGE = 'inferenceserver.apiKey';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  /** askForKey(reason) resolves to a key, or null when the user cancels. */
  constructor(askForKey) {
    this.askForKey = askForKey;
    this.pendingKey = null;
  }

  get key() { return localStorage.getItem(KEY_STORAGE) || ''; }
  set key(value) {
    if (value) localStorage.setItem(KEY_STORAGE, value);
    else localStorage.removeItem(KEY_STORAGE);
  }

  async fetch(path, init = {}) {
    for (;;) {
      const headers = { ...(init.headers || {}) };
      if (this.key) headers.Authorization = `Bearer ${this.key}`;
      const response = await fetch(path, { ...init, headers });
      if (response.status !== 401) {
        if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
        return response;
      }
      const reason = this.key ? 'The server refused this API key. Enter another one.' : 'This server needs an API key.';
      this.pendingKey ??= this.askForKey(reason).finally(() => { this.pendingKey = null; });
      const key = await this.pendingKey;
      if (!key) throw new ApiError(401, 'An API key is needed.');
      this.key = key;
    }
  }

  async json(path) { return (await this.fetch(path)).json(); }

  /** Streams a chat completion: yields each parsed chunk until [DONE]. */
  async *streamChat(body, signal) {
    const response = await this.fetch('v1/chat/completions', {
      method: 'POST', signal,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter(line => line.startsWith('data:')).map(line => line.slice(5).trimStart()).join('\n');
        if (!data) continue;
        if (data === '[DONE]') return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(500, chunk.error.message);
        yield chunk;
      }
    }
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body?.error?.message || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}
