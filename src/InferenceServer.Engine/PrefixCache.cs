namespace InferenceServer.Engine;

/// <summary>KV-cache operations on llama.cpp sequence ids. Positions are token positions, [from, to).</summary>
public interface IKvCacheOperations
{
    /// <summary>Makes <paramref name="target"/> share the cells <paramref name="source"/> holds in [from, to); no data is copied.</summary>
    void Copy(SequenceSlot source, SequenceSlot target, int from, int to);

    /// <summary>Drops the sequence's hold on its cells in [from, to); a cell no sequence holds is free.</summary>
    void Remove(SequenceSlot slot, int from, int to);

    /// <summary>
    /// With a KV stream per sequence: replaces <paramref name="target"/>'s stream with a copy of everything
    /// <paramref name="source"/>'s holds (the data is copied before the next decode). llama.cpp copies only
    /// whole streams between sequences: a partial cross-stream copy aborts the process.
    /// </summary>
    void CopyStream(SequenceSlot source, SequenceSlot target);
}

/// <summary>
/// A radix tree over token ids recording which KV cells hold which prompt prefix, so a request reuses
/// the longest prefix any earlier or running request computed (SGLang's RadixAttention, token-exact).
///
/// Invariants:
/// - Each node covers token positions [Start, End) under its parent and owns one sequence id that holds
///   exactly those cells; node ids are never used in a decode batch. Siblings differ in their first token.
/// - <see cref="CachedCells"/> is the sum of node lengths: distinct cells, since no two nodes cover the
///   same position of the same path.
/// - A node's lock count is the number of running sequences whose path passes through it; only unlocked
///   leaves are evicted, so a running request's prefix is never taken away.
/// - The tree is partitioned by isolation key: one root per key, nothing shared across keys.
/// Used from the engine loop's thread only.
/// </summary>
internal sealed class PrefixCache
{
    internal sealed class Node
    {
        public Node? Parent;
        public readonly Dictionary<int, Node> Children = new();
        public int[] Tokens = [];
        public int Start;
        public SequenceSlot Owner;
        public int Locks;
        public long LastUsed;
        public string Key = "";

        public int End => Start + Tokens.Length;
        public bool IsRoot => Parent is null;
    }

    /// <summary>The deepest node of a matched or inserted path, with how many tokens the path covers.</summary>
    public readonly record struct CachePath(Node? Deepest, int Length)
    {
        public static readonly CachePath Empty = new(null, 0);
    }

    private readonly IKvCacheOperations _kv;
    private readonly Stack<SequenceSlot> _freeOwners;
    private readonly Dictionary<string, Node> _roots = new();

    public PrefixCache(IKvCacheOperations kv, IEnumerable<SequenceSlot> ownerSlots)
    {
        _kv = kv;
        _freeOwners = new Stack<SequenceSlot>(ownerSlots.Reverse());
    }

    public int CachedCells { get; private set; }
    public long Evictions { get; private set; }
    public int NodeCount { get; private set; }

    /// <summary>Finds the longest cached prefix of <paramref name="tokens"/> of at most <paramref name="maxLength"/> tokens, splitting a node so the path ends on a node boundary.</summary>
    public CachePath Match(string key, ReadOnlySpan<int> tokens, int maxLength, long now)
    {
        if (!_roots.TryGetValue(key, out var node)) return CachePath.Empty;
        var length = 0;
        tokens = tokens[..Math.Min(tokens.Length, maxLength)];
        while (length < tokens.Length && node.Children.TryGetValue(tokens[length], out var child))
        {
            var shared = CommonPrefix(child.Tokens, tokens[length..]);
            if (shared < child.Tokens.Length)
            {
                if (!TrySplit(child, shared)) break;
                child = child.Parent!;
            }
            child.LastUsed = now;
            node = child;
            length += shared;
        }
        return node.IsRoot ? CachePath.Empty : new CachePath(node, length);
    }

    /// <summary>Makes <paramref name="target"/> hold the cells of every node on the path.</summary>
    public void Attach(CachePath path, SequenceSlot target)
    {
        for (var node = path.Deepest; node is { IsRoot: false }; node = node.Parent)
            _kv.Copy(node.Owner, target, node.Start, node.End);
    }

    /// <summary>
    /// Records that <paramref name="holder"/> holds the KV of <paramref name="tokens"/> (from position 0):
    /// the part not yet cached becomes a new node sharing the holder's cells. Returns the path and how many
    /// cells moved into the cache; inserts less when no node id can be freed.
    /// </summary>
    public (CachePath Path, int NewCells) Insert(string key, ReadOnlySpan<int> tokens, SequenceSlot holder, long now)
    {
        var matched = Match(key, tokens, tokens.Length, now);
        if (matched.Length == tokens.Length) return (matched, 0);

        var parent = matched.Deepest ?? Root(key);
        if (!TryTakeOwner(out var owner, protect: parent)) return (matched, 0);

        var node = new Node
        {
            Parent = parent,
            Tokens = tokens[matched.Length..].ToArray(),
            Start = matched.Length,
            Owner = owner,
            LastUsed = now,
            Key = key,
        };
        _kv.Copy(holder, owner, node.Start, node.End);
        parent.Children.Add(node.Tokens[0], node);
        CachedCells += node.Tokens.Length;
        NodeCount++;
        return (new CachePath(node, tokens.Length), node.Tokens.Length);
    }

    public void Lock(CachePath path)
    {
        for (var node = path.Deepest; node is { IsRoot: false }; node = node.Parent) node.Locks++;
    }

    public void Unlock(CachePath path)
    {
        for (var node = path.Deepest; node is { IsRoot: false }; node = node.Parent)
        {
            if (node.Locks <= 0) throw new InvalidOperationException("Unlocking a prefix-cache node that is not locked.");
            node.Locks--;
        }
    }

    /// <summary>Frees least-recently-used unlocked leaves until at least <paramref name="cells"/> cells are freed; returns how many were.</summary>
    public int Evict(int cells)
    {
        var freed = 0;
        while (freed < cells && EvictOne(protect: null) is { } evicted) freed += evicted;
        return freed;
    }

    internal IEnumerable<Node> AllNodes()
    {
        var stack = new Stack<Node>(_roots.Values);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!node.IsRoot) yield return node;
            foreach (var child in node.Children.Values) stack.Push(child);
        }
    }

    private int? EvictOne(Node? protect)
    {
        Node? victim = null;
        foreach (var node in AllNodes())
            if (node.Children.Count == 0 && node.Locks == 0 && !IsOnPath(node, protect) && (victim is null || node.LastUsed < victim.LastUsed))
                victim = node;
        if (victim is null) return null;

        _kv.Remove(victim.Owner, victim.Start, victim.End);
        victim.Parent!.Children.Remove(victim.Tokens[0]);
        if (victim.Parent.IsRoot && victim.Parent.Children.Count == 0) _roots.Remove(victim.Key);
        _freeOwners.Push(victim.Owner);
        CachedCells -= victim.Tokens.Length;
        NodeCount--;
        Evictions++;
        return victim.Tokens.Length;
    }

    /// <summary>Splits a node at <paramref name="at"/>: a new parent takes the first part, the node keeps the rest.</summary>
    private bool TrySplit(Node node, int at)
    {
        if (!TryTakeOwner(out var owner, protect: node)) return false;
        var upper = new Node
        {
            Parent = node.Parent,
            Tokens = node.Tokens[..at],
            Start = node.Start,
            Owner = owner,
            Locks = node.Locks,
            LastUsed = node.LastUsed,
            Key = node.Key,
        };
        // The new owner takes over the first part's cells before the old one lets go of them.
        _kv.Copy(node.Owner, owner, node.Start, node.Start + at);
        _kv.Remove(node.Owner, node.Start, node.Start + at);

        node.Parent!.Children[upper.Tokens[0]] = upper;
        node.Parent = upper;
        node.Tokens = node.Tokens[at..];
        node.Start += at;
        upper.Children.Add(node.Tokens[0], node);
        NodeCount++;
        return true;
    }

    private bool TryTakeOwner(out SequenceSlot owner, Node protect)
    {
        if (_freeOwners.Count == 0) EvictOne(protect);
        return _freeOwners.TryPop(out owner);
    }

    private static bool IsOnPath(Node node, Node? deepest)
    {
        for (var n = deepest; n is not null; n = n.Parent)
            if (n == node) return true;
        return false;
    }

    private Node Root(string key)
    {
        if (!_roots.TryGetValue(key, out var root)) _roots[key] = root = new Node { Key = key };
        return root;
    }

    public static int CommonPrefix(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
