namespace InferenceServer.Templates.Parsing;

// Statements
internal abstract record Node(int Line);
internal sealed record TemplateNode(List<Node> Body) : Node(1);
internal sealed record DataNode(string Text, int L) : Node(L);
internal sealed record EmitNode(Expr Value, int L) : Node(L);
internal sealed record IfNode(Expr Test, List<Node> Body, List<Node> Else, int L) : Node(L);
internal sealed record ForNode(Expr Target, Expr Iter, Expr? Filter, List<Node> Body, List<Node> Else, bool Recursive, int L) : Node(L);
internal sealed record AssignNode(Expr Target, Expr Value, int L) : Node(L);
internal sealed record BlockAssignNode(Expr Target, List<FilterCall> Filters, List<Node> Body, int L) : Node(L);
internal sealed record MacroNode(string Name, List<string> Params, List<Expr?> Defaults, List<Node> Body, int L) : Node(L);
internal sealed record CallBlockNode(CallExpr Call, List<string> Params, List<Expr?> Defaults, List<Node> Body, int L) : Node(L);
internal sealed record FilterBlockNode(List<FilterCall> Filters, List<Node> Body, int L) : Node(L);
internal sealed record ScopeNode(List<Node> Body, int L) : Node(L); // generation tag: body rendered as-is
internal sealed record BreakNode(int L) : Node(L);
internal sealed record ContinueNode(int L) : Node(L);

// Expressions
internal abstract record Expr(int Line);
internal sealed record ConstExpr(object? Value, int L) : Expr(L);
internal sealed record NameExpr(string Name, int L) : Expr(L);
internal sealed record ListExpr(List<Expr> Items, int L) : Expr(L);
internal sealed record TupleExpr(List<Expr> Items, int L) : Expr(L);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Pairs, int L) : Expr(L);
internal sealed record GetAttrExpr(Expr Target, string Name, int L) : Expr(L);
internal sealed record GetItemExpr(Expr Target, Expr Key, int L) : Expr(L);
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int L) : Expr(L);
internal sealed record CallExpr(Expr Target, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int L) : Expr(L);
internal sealed record FilterCall(string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line);
internal sealed record FilterExpr(Expr Value, FilterCall Filter, int L) : Expr(L);
internal sealed record TestExpr(Expr Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int L) : Expr(L);
internal sealed record UnaryExpr(string Op, Expr Operand, int L) : Expr(L); // "not", "-", "+"
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int L) : Expr(L); // arithmetic, and, or
internal sealed record ConcatExpr(List<Expr> Items, int L) : Expr(L);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest, int L) : Expr(L);
internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int L) : Expr(L);
