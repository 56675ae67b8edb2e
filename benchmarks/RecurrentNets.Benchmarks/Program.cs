using BenchmarkDotNet.Running;

// `--no-same-bits` anywhere: CPUs without FMA (or DOTNET_EnableAVX2=0) multiply and add with two roundings instead of
// emulating the FMA (Determinism.SameBitsOnEveryCpu off), to time what the same bits cost there.
if (args.Contains("--no-same-bits"))
{
    AppContext.SetSwitch(RecurrentNets.Kernels.Determinism.SwitchName, false);
    args = [.. args.Where(a => a != "--no-same-bits")];
}

// `compare` times us and the peers side by side (see PeerComparison); anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "compare")
{
    return RecurrentNets.Benchmarks.PeerComparison.Run(args[1..]);
}

// `serve` times many concurrent streams through the stream batcher, unbatched frozen steps and ONNX Runtime (see ServeBenchmark).
if (args is ["serve", ..])
{
    return RecurrentNets.Benchmarks.ServeBenchmark.Run(args[1..]);
}

// `reservoir-cputime [--markdown FILE]` times the reservoir steps and the ridge fit by thread CPU time (see ReservoirCpuTime).
if (args is ["reservoir-cputime", ..])
{
    return RecurrentNets.Benchmarks.ReservoirCpuTime.Run(args[1..]);
}

// `reservoir-steps` alternates the reservoir's Step and StepBatch(8) in one process (see ReservoirStepTiming).
if (args is ["reservoir-steps", ..])
{
    return RecurrentNets.Benchmarks.ReservoirStepTiming.Run(args[1..]);
}

// `spectral` times the Arnoldi spectral radius (see SpectralRadiusTiming).
if (args is ["spectral", ..])
{
    return RecurrentNets.Benchmarks.SpectralRadiusTiming.Run(args[1..]);
}

// `attention-decode` times a greedy decoding step with and without attention (see AttentionDecodeTiming).
if (args is ["attention-decode", ..])
{
    return RecurrentNets.Benchmarks.AttentionDecodeTiming.Run(args[1..]);
}

// `lstmp [--threads 1,2] [--rounds 5] [--calls 10] [--proj 128]` alternates our LSTM with projections with libtorch's
// nn.LSTM(proj_size) via python3-torch, the plain LSTM beside it (see LstmProjectionBenchmarks).
if (args is ["lstmp", ..])
{
    return RecurrentNets.Benchmarks.LstmProjectionBenchmarks.RunVersusTorch(args[1..]);
}

// `ctc [--threads 1,2] [--rounds 7] [--calls 30]` alternates our CTC loss with libtorch's ctc_loss via python3-torch (see CtcBenchmarks).
if (args is ["ctc", ..])
{
    return RecurrentNets.Benchmarks.CtcBenchmarks.RunVersusTorch(args[1..]);
}

// `probe` times the parts of one recurrent step separately (see StepProbe).
if (args.Length > 0 && args[0] == "probe")
{
    return RecurrentNets.Benchmarks.StepProbe.Run(args[1..]);
}

// `model-ab` alternates the model layer's training step with the same step on the engine (see ModelBenchmarks).
if (args is ["model-ab", ..])
{
    return RecurrentNets.Benchmarks.ModelBenchmarks.RunAlternated();
}

// `ab <folder>` alternates this build's RnnBenchmarks and ModelBenchmarks with another build's in one process (see CrossBuildComparison).
if (args is ["ab", ..])
{
    return RecurrentNets.Benchmarks.CrossBuildComparison.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
