namespace InferenceServer.StructuredOutput.Tests;

/// <summary>Schemas of the kind clients send as response_format. Strings and arrays carry bounds so
/// a tiny story model, forced through the grammar, reaches the closing brace within the token budget.</summary>
internal static class RealisticSchemas
{
    public static readonly (string Name, string Schema)[] All =
    [
        ("person", """
            {"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":0,"maximum":120},
             "email":{"type":"string","format":"email"}},"required":["name","age"],"additionalProperties":false}
            """),
        ("weather", """
            {"type":"object","properties":{"city":{"type":"string","minLength":1,"maxLength":16},"temperature":{"type":"number","minimum":0,"maximum":50},
             "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city","temperature","unit"],"additionalProperties":false}
            """),
        ("todo-list", """
            {"type":"object","properties":{"items":{"type":"array","maxItems":3,"items":{"type":"object",
             "properties":{"title":{"type":"string","maxLength":20},"done":{"type":"boolean"}},"required":["title","done"],"additionalProperties":false}}},
             "required":["items"],"additionalProperties":false}
            """),
        ("sentiment", """
            {"type":"object","properties":{"label":{"enum":["positive","negative","neutral"]},"confidence":{"type":"number","minimum":0,"maximum":1}},
             "required":["label","confidence"],"additionalProperties":false}
            """),
        ("calendar-event", """
            {"type":"object","properties":{"title":{"type":"string","maxLength":24},"date":{"type":"string","format":"date"},
             "start":{"type":"string","format":"time"}},"required":["title","date"],"additionalProperties":false}
            """),
        ("product", """
            {"type":"object","properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string","maxLength":16},
             "price":{"type":"number","minimum":0},"tags":{"type":"array","items":{"type":"string","maxLength":10},"maxItems":3}},
             "required":["id","name","price"],"additionalProperties":false}
            """),
        ("address", """
            {"type":"object","properties":{"street":{"type":"string","maxLength":30},"zip":{"type":"string","pattern":"^[0-9]{5}$"},
             "country":{"type":"string","pattern":"^[A-Z]{2}$"}},"required":["street","zip","country"],"additionalProperties":false}
            """),
        ("tree", """
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"value":{"type":"integer","minimum":0,"maximum":99},
             "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value"],"additionalProperties":false}}}
            """),
        ("tool-result", """
            {"type":"object","properties":{"result":{"anyOf":[{"type":"object","properties":{"error":{"type":"string","maxLength":20}},
             "required":["error"],"additionalProperties":false},{"type":"integer","minimum":-1000,"maximum":1000}]}},"required":["result"],"additionalProperties":false}
            """),
        ("nullable-fields", """
            {"type":"object","properties":{"nickname":{"type":["string","null"],"maxLength":10},"score":{"type":["integer","null"],"minimum":0,"maximum":10}},
             "required":["nickname","score"],"additionalProperties":false}
            """),
        ("const-header", """
            {"type":"object","properties":{"version":{"const":1},"kind":{"const":"report"},"ok":{"type":"boolean"}},
             "required":["version","kind","ok"],"additionalProperties":false}
            """),
        ("tuple", """
            {"type":"array","prefixItems":[{"type":"string","maxLength":8},{"type":"integer","minimum":0,"maximum":9},{"type":"boolean"}],"items":false,"minItems":3}
            """),
        ("all-of-extension", """
            {"allOf":[{"$ref":"#/$defs/base"},{"type":"object","properties":{"role":{"enum":["admin","user"]}},"required":["role"]}],
             "$defs":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":9999}},"required":["id"]}}}
            """),
        ("string-map", """
            {"type":"object","propertyNames":{"pattern":"^[a-z]{1,8}$"},"additionalProperties":{"type":"integer","minimum":0,"maximum":9},"maxProperties":3}
            """),
        ("log-entry", """
            {"type":"object","properties":{"timestamp":{"type":"string","format":"date-time"},"level":{"enum":["debug","info","warn","error"]},
             "message":{"type":"string","maxLength":30}},"required":["timestamp","level","message"],"additionalProperties":false}
            """),
        ("mixed-enum", """
            {"type":"object","properties":{"answer":{"enum":["yes","no",0,1,true,null]}},"required":["answer"],"additionalProperties":false}
            """),
        ("date-parts", """
            {"type":"object","properties":{"year":{"type":"integer","minimum":1900,"maximum":2100},"month":{"type":"integer","minimum":1,"maximum":12},
             "day":{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":29}},"required":["year","month","day"],"additionalProperties":false}
            """),
        ("draft07-definitions", """
            {"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"point":{"type":"object","properties":{"x":{"type":"integer","minimum":-50,"maximum":50},"y":{"type":"integer","minimum":-50,"maximum":50}},
             "required":["x","y"],"additionalProperties":false}},"type":"object","properties":{"from":{"$ref":"#/definitions/point"},"to":{"$ref":"#/definitions/point"}},
             "required":["from","to"],"additionalProperties":false}
            """),
        ("number-list", """
            {"type":"object","properties":{"values":{"type":"array","items":{"type":"integer","minimum":0,"maximum":500},"minItems":2,"maxItems":4}},
             "required":["values"],"additionalProperties":false}
            """),
        ("network", """
            {"type":"object","properties":{"host":{"type":"string","format":"ipv4"},"request_id":{"type":"string","format":"uuid"},
             "shape":{"oneOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"integer","minimum":1,"maximum":9}},"required":["kind","r"],"additionalProperties":false},
                               {"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer","minimum":1,"maximum":9}},"required":["kind","side"],"additionalProperties":false}]}},
             "required":["host","request_id","shape"],"additionalProperties":false}
            """),
    ];
}
