using BenchmarkDotNet.Running;

if (args is ["reservoir-cputime", ..])
{
    RecurrentNets.Benchmarks.ReservoirCpuTime.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
