namespace InferenceServer.Engine.Tests;

public class PrefixCacheTests
{
    private static readonly SequenceSlot Holder = new(0);
    private readonly FakeKvCache _kv = new();
    private PrefixCache _cache;
    private long _now;

    public PrefixCacheTests() => _cache = NewCache(nodeIds: 20);

    private PrefixCache NewCache(int nodeIds) => new(_kv, Enumerable.Range(10, nodeIds).Select(i => new SequenceSlot(i)));

    /// <summary>What a finished request does: its sequence computed the tokens, the cache keeps them, the sequence lets go.</summary>
    private PrefixCache.CachePath Store(params int[] tokens) => Store("", tokens);

    private PrefixCache.CachePath Store(string key, params int[] tokens)
    {
        _kv.Decoded(tokens.Select((t, i) => new BatchToken(t, i, Holder, false)));
        var (path, _) = _cache.Insert(key, tokens, Holder, ++_now);
        _kv.Remove(Holder, 0, int.MaxValue);
        return path;
    }

    private int MatchLength(params int[] tokens) => _cache.Match("", tokens, tokens.Length, ++_now).Length;

    /// <summary>Every node's owner holds exactly the node's positions, with the node's tokens in them.</summary>
    private void AssertNodesOwnTheirCells()
    {
        foreach (var node in _cache.AllNodes())
        {
            var held = _kv.TokensOf(node.Owner);
            Assert.Equal(Enumerable.Range(node.Start, node.Tokens.Length), held.Keys.Order());
            Assert.Equal(node.Tokens, held.OrderBy(p => p.Key).Select(p => p.Value));
        }
        Assert.Equal(_cache.CachedCells, _kv.CellsInUse);
    }

    [Fact]
    public void Finds_the_longest_cached_prefix()
    {
        Store(1, 2, 3, 4, 5);
        Assert.Equal(5, MatchLength(1, 2, 3, 4, 5, 6));
        Assert.Equal(3, MatchLength(1, 2, 3, 9));
        Assert.Equal(0, MatchLength(7, 1, 2));
        Assert.Equal(2, _cache.Match("", [1, 2, 3, 4, 5], 2, ++_now).Length);
        AssertNodesOwnTheirCells();
    }

    [Fact]
    public void Divergence_inside_a_node_splits_it_and_both_branches_keep_their_cells()
    {
        Store(1, 2, 3, 4, 5);
        Store(1, 2, 3, 8, 9);

        Assert.Equal(3, _cache.NodeCount);
        Assert.Equal(7, _cache.CachedCells);
        Assert.Equal(5, MatchLength(1, 2, 3, 8, 9));
        Assert.Equal(5, MatchLength(1, 2, 3, 4, 5));
        AssertNodesOwnTheirCells();
    }

    [Fact]
    public void A_prompt_that_is_a_prefix_of_a_cached_one_matches_whole()
    {
        Store(1, 2, 3, 4, 5, 6);
        Assert.Equal(3, MatchLength(1, 2, 3));
        AssertNodesOwnTheirCells();
    }

    [Fact]
    public void Attaching_a_path_gives_a_sequence_every_cached_cell_of_the_prefix()
    {
        Store(1, 2, 3, 4);
        Store(1, 2, 3, 4, 5, 6);
        var path = _cache.Match("", [1, 2, 3, 4, 5, 6, 7], 7, ++_now);
        var target = new SequenceSlot(3);
        _cache.Attach(path, target);

        Assert.Equal(new Dictionary<int, int> { [0] = 1, [1] = 2, [2] = 3, [3] = 4, [4] = 5, [5] = 6 }, _kv.TokensOf(target));
        Assert.Equal(6, _kv.CellsInUse); // shared, not copied
    }

    [Fact]
    public void Eviction_takes_least_recently_used_unlocked_leaves_first()
    {
        Store(1, 2, 3);
        Store(4, 5, 6);
        Store(7, 8, 9);
        MatchLength(1, 2, 3); // now 4,5,6 is the oldest

        Assert.Equal(3, _cache.Evict(1));
        Assert.Equal(0, MatchLength(4, 5, 6));
        Assert.Equal(3, MatchLength(1, 2, 3));
        Assert.Equal(1, _cache.Evictions);
        AssertNodesOwnTheirCells();
    }

    [Fact]
    public void Locked_paths_are_never_evicted_and_parents_go_once_their_children_are_gone()
    {
        Store(1, 2, 3, 4);
        Store(1, 2, 3, 5);
        var locked = _cache.Match("", [1, 2, 3, 4], 4, ++_now);
        _cache.Lock(locked);

        Assert.Equal(1, _cache.Evict(100)); // only the unlocked leaf [5]
        Assert.Equal(4, MatchLength(1, 2, 3, 4));
        _cache.Unlock(locked);
        Assert.Equal(4, _cache.Evict(100));
        Assert.Equal(0, _cache.CachedCells);
        Assert.Equal(0, _kv.CellsInUse);
        Assert.Throws<InvalidOperationException>(() => _cache.Unlock(locked));
    }

    [Fact]
    public void Isolation_keys_never_share_a_prefix()
    {
        Store("tenant-a", 1, 2, 3, 4);
        Assert.Equal(0, _cache.Match("tenant-b", [1, 2, 3, 4], 4, ++_now).Length);
        Assert.Equal(4, _cache.Match("tenant-a", [1, 2, 3, 4], 4, ++_now).Length);
    }

    [Fact]
    public void Running_out_of_node_ids_evicts_to_make_room()
    {
        for (var i = 0; i < 25; i++) Store(100 + i, 1, 2);
        Assert.Equal(20, _cache.NodeCount);
        Assert.Equal(3, MatchLength(124, 1, 2));
        Assert.Equal(0, MatchLength(100, 1, 2));
        AssertNodesOwnTheirCells();
    }

    /// <summary>
    /// Property: after any sequence of stores, matches, locks and evictions the tree answers every match
    /// exactly like a naive set of cached token strings, never evicts a locked path, and its owners hold
    /// exactly their nodes' cells. (Node ids are plentiful here: running out of them is tested above.)
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Behaves_like_a_naive_prefix_set(int seed)
    {
        _cache = NewCache(nodeIds: 2000);
        var random = new Random(seed);
        var cached = new HashSet<string>(); // every cached prefix, as "1,2,3"
        var locks = new List<(PrefixCache.CachePath Path, int[] Tokens)>();
        int[] RandomTokens() => Enumerable.Range(0, random.Next(1, 9)).Select(_ => random.Next(1, 4)).ToArray();
        static string Text(IEnumerable<int> tokens) => string.Join(",", tokens);
        int NaiveMatch(int[] tokens)
        {
            var n = 0;
            while (n < tokens.Length && cached.Contains(Text(tokens[..(n + 1)]))) n++;
            return n;
        }
        void SyncNaiveWithTree()
        {
            cached.Clear();
            foreach (var node in _cache.AllNodes())
            {
                var path = new List<int>();
                for (var n = node; n is { IsRoot: false }; n = n.Parent) path.InsertRange(0, n.Tokens);
                for (var length = node.Start + 1; length <= node.End; length++) cached.Add(Text(path.Take(length)));
            }
        }

        for (var step = 0; step < 300; step++)
        {
            var tokens = RandomTokens();
            switch (random.Next(5))
            {
                case 0 or 1:
                    var before = new HashSet<string>(cached);
                    Store(tokens);
                    for (var n = 1; n <= tokens.Length; n++) before.Add(Text(tokens[..n]));
                    SyncNaiveWithTree();
                    // Everything stored is cached, unless node ids ran out and something unlocked was evicted.
                    Assert.True(before.IsSupersetOf(cached));
                    break;
                case 2:
                    Assert.True(NaiveMatch(tokens) == MatchLength(tokens), $"step {step}: match of [{Text(tokens)}]");
                    break;
                case 3:
                    var path = _cache.Match("", tokens, tokens.Length, ++_now);
                    _cache.Lock(path);
                    locks.Add((path, tokens[..path.Length]));
                    break;
                default:
                    if (locks.Count > 0 && random.Next(2) == 0)
                    {
                        var index = random.Next(locks.Count);
                        _cache.Unlock(locks[index].Path);
                        locks.RemoveAt(index);
                    }
                    _cache.Evict(random.Next(1, 6));
                    SyncNaiveWithTree();
                    break;
            }
            foreach (var (_, held) in locks) Assert.True(held.Length == NaiveMatch(held), $"step {step}: locked [{Text(held)}] lost; cached: {string.Join(" ", cached.Order())}");
            AssertNodesOwnTheirCells();
        }
    }
}
