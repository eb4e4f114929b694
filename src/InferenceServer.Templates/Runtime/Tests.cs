namespace InferenceServer.Templates.Runtime;

/// <summary>Jinja2's built-in tests (`x is defined`, `x is string`, ...).</summary>
internal static class Tests
{
    public static bool Apply(Interpreter interp, string name, object? v, List<object?> args, int line)
    {
        object? Arg(int i) => i < args.Count ? args[i] : throw PyOps.TypeError($"test '{name}' requires an argument");
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "boolean": return v is bool;
            case "true": return v is true;
            case "false": return v is false;
            case "integer": return v is long;
            case "float": return v is double;
            case "number": return v is long or double or bool;
            case "string": return v is string or Markup;
            case "mapping": return v is PyDict;
            case "iterable": return v is string or Markup or PyList or PyTuple or PyDict or Undefined or PyGenerator;
            case "sequence": return v is string or Markup or PyList or PyTuple or PyDict or Undefined;
            case "callable": return v is ICallableValue;
            case "odd": return PyOps.ToLong(v) % 2 != 0;
            case "even": return PyOps.ToLong(v) % 2 == 0;
            case "divisibleby": return PyOps.ToLong(v) % PyOps.ToLong(Arg(0)) == 0;
            case "eq": case "equalto": case "==": return PyOps.Equal(v, Arg(0));
            case "ne": case "!=": return !PyOps.Equal(v, Arg(0));
            case "lt": case "lessthan": case "<": return PyOps.Compare(v, Arg(0)) < 0;
            case "le": case "<=": return PyOps.Compare(v, Arg(0)) <= 0;
            case "gt": case "greaterthan": case ">": return PyOps.Compare(v, Arg(0)) > 0;
            case "ge": case ">=": return PyOps.Compare(v, Arg(0)) >= 0;
            case "in": return PyOps.Contains(Arg(0), v);
            case "sameas":
                {
                    // Python `is`: None/True/False and small ints (-5..256) are singletons; other values compare by identity.
                    var o = Arg(0);
                    return v switch
                    {
                        null => o is null,
                        bool b => o is bool ob && b == ob,
                        long l when l is >= -5 and <= 256 => o is long ol && ol == l,
                        _ => v is not (long or double or string) && ReferenceEquals(v, o),
                    };
                }
            case "lower": { var s = PyOps.Str(v); return s.Any(char.IsLetter) && !s.Any(char.IsUpper); }
            case "upper": { var s = PyOps.Str(v); return s.Any(char.IsLetter) && !s.Any(char.IsLower); }
            case "escaped": return v is Markup;
            default: throw new TemplateRenderException($"TemplateAssertionError: No test named '{name}' (line {line}).");
        }
    }
}
