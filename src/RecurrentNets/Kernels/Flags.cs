namespace RecurrentNets.Kernels;

/// <summary>A compile-time switch: kernels take it as a struct type argument so the JIT removes the untaken branch.</summary>
internal interface IFlag
{
    static abstract bool Enabled { get; }
}

/// <summary>The switch is on.</summary>
internal readonly struct On : IFlag
{
    public static bool Enabled => true;
}

/// <summary>The switch is off.</summary>
internal readonly struct Off : IFlag
{
    public static bool Enabled => false;
}
