using BenchmarkDotNet.Running;

// `compare` times us and the peers side by side (see PeerComparison); anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "compare")
{
    return RecurrentNets.Benchmarks.PeerComparison.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "probe")
{
    return RecurrentNets.Benchmarks.StepProbe.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
