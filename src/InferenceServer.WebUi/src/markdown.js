// Model output is untrusted: Markdown (with math) becomes HTML here and DOMPurify removes every script, event handler,
// javascript: URL and form control before it reaches the page (the server's CSP is the second wall).
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import markedKatex from 'marked-katex-extension';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

for (const [name, language] of Object.entries({ bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml })) {
  hljs.registerLanguage(name, language);
}

const escape = text => text.replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = (lang || '').trim().split(/\s+/)[0].toLowerCase();
      const highlighted = language && hljs.getLanguage(language)
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escape(text);
      const label = language ? `<span class="code-lang">${escape(language)}</span>` : '';
      return `<div class="code-block">${label}<button type="button" class="copy-code" aria-label="Copy code">Copy</button>` +
        `<pre><code class="hljs${language ? ` language-${escape(language)}` : ''}">${highlighted}</code></pre></div>`;
    },
  },
});

// Math ($…$, $$…$$) as MathML, which browsers lay out themselves: no fonts, stylesheets or style attributes.
marked.use(markedKatex({ output: 'mathml', throwOnError: false }));

DOMPurify.addHook('afterSanitizeAttributes', node => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const purifyOptions = {
  FORBID_TAGS: ['style', 'form', 'input', 'textarea', 'select', 'option', 'iframe', 'object', 'embed', 'dialog'],
  // No ids or names: output must not shadow the page's own elements (DOM clobbering).
  FORBID_ATTR: ['style', 'srcset', 'formaction', 'id', 'name'],
  ADD_ATTR: ['target'],
  // KaTeX wraps its MathML in <semantics> with the TeX source as an <annotation>, which browsers do not display.
  ADD_TAGS: ['semantics', 'annotation'],
};

/** Markdown text (untrusted) as sanitised HTML. */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text ?? ''), purifyOptions);
}
