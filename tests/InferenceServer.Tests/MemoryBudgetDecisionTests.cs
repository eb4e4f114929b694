namespace InferenceServer.Tests;

/// <summary>--models-memory-budget's choice of idle models to unload for a model about to load, without loading any.</summary>
public sealed class MemoryBudgetDecisionTests
{
    // Idle models: (name, bytes, last used).
    private static readonly (string, long, long)[] Idle = [("old", 30, 1), ("newest", 20, 9), ("middle", 25, 5)];

    [Fact]
    public void What_fits_beside_the_models_loaded_unloads_nothing() =>
        Assert.Empty(MemoryBudget.Evictions(bytes: 25, budget: 100, used: 75, Idle)!);

    [Fact]
    public void The_least_recently_used_idle_models_go_first_and_no_more_than_needed()
    {
        // 75 used + 60 needed: freeing "old" (30) leaves 45 + 60 > 100, then "middle" (25) leaves 20 + 60 <= 100.
        Assert.Equal(["old", "middle"], MemoryBudget.Evictions(bytes: 60, budget: 100, used: 75, Idle));
        Assert.Equal(["old"], MemoryBudget.Evictions(bytes: 55, budget: 100, used: 75, Idle));
    }

    [Fact]
    public void When_busy_models_hold_too_much_to_fit_even_with_every_idle_one_gone_none_is_unloaded()
    {
        // 75 idle of 95 used: at best 20 stay used, and 20 + 90 > 100.
        Assert.Null(MemoryBudget.Evictions(bytes: 90, budget: 100, used: 95, Idle));
        Assert.Null(MemoryBudget.Evictions(bytes: 10, budget: 100, used: 100, Array.Empty<(string, long, long)>()));
    }

    [Fact]
    public void Unloading_every_idle_model_is_allowed_when_that_is_what_it_takes() =>
        Assert.Equal(["old", "middle", "newest"], MemoryBudget.Evictions(bytes: 100, budget: 100, used: 75, Idle));
}
