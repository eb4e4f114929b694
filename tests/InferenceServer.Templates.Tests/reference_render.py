"""Reference renderer: Python Jinja2 configured as Hugging Face transformers' apply_chat_template does, but with
Jinja2's SandboxedEnvironment (as llama.cpp allows) instead of the immutable one: templates may change lists and dicts.

Reads one JSON document from stdin: {"now": "YYYY-MM-DDTHH:MM:SS", "cases": [{"id", "template", "context"}]}
where "template" is the template source. Writes one JSON line per case:
{"id", "ok": true, "output"} or {"id", "ok": false, "raised": bool, "error": "Type: message"}.
"raised" is true when the template called raise_exception. Requires Debian's python3-jinja2.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import SandboxedEnvironment


class TemplateRaised(jinja2.exceptions.TemplateError):
    pass


class AssistantTracker(Extension):
    # Same parse as transformers' AssistantTracker: the body is rendered through a call block, unchanged.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def main():
    request = json.load(sys.stdin)
    now = datetime.fromisoformat(request["now"])

    def raise_exception(message):
        raise TemplateRaised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now

    compiled = {}
    out = sys.stdout
    for case in request["cases"]:
        result = {"id": case["id"]}
        try:
            source = case["template"]
            if source not in compiled:
                try:
                    compiled[source] = env.from_string(source)
                except Exception as e:  # noqa: BLE001 - reported, compared by kind
                    compiled[source] = e
            template = compiled[source]
            if isinstance(template, Exception):
                raise template
            result["output"] = template.render(**case["context"])
            result["ok"] = True
        except Exception as e:  # noqa: BLE001
            result["ok"] = False
            result["raised"] = isinstance(e, TemplateRaised)
            result["syntax"] = isinstance(e, jinja2.exceptions.TemplateSyntaxError)
            result["error"] = f"{type(e).__name__}: {e}"
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
