using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using RecurrentNets.Kernels;
using RecurrentNets.Models;
using RecurrentNets.Onnx;
using RecurrentNets.Sequence;
using RecurrentNets.Serving;
using RecurrentNets.Tensors;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// Serving N concurrent streams of one LSTM (I = 64, H = 256, float, one layer, output h), each sending its next step as
/// soon as it has the previous result (a closed loop), three ways: (a) a <see cref="StreamBatcher{T}"/> (N tasks awaiting
/// <see cref="StreamBatcher{T}.StepAsync(BatchedStream{T}, ReadOnlySpan{T}, CancellationToken)"/>; a grid of MaxBatchSize
/// and MaxWait, the best reported), (b) <see cref="FrozenModel{T}.Step(ModelStream{T}, ReadOnlySpan{T}, Span{T})"/> at
/// batch 1 and (c) ONNX Runtime with one <c>Run</c> per step at batch 1 (the same weights exported with initial_h/initial_c
/// inputs, state kept per stream), both (b) and (c) from min(N, processors) threads, each cycling through its share of the
/// streams. Throughput (stream-steps/s) and the per-step latency from submit to result (p50, p99) are measured over a fixed
/// window after a warm-up. Also: the two-core FMA peak (a register-only FMA loop on every core at once) and the FMA-bound
/// limit 2·4H·(I + H) FLOP per stream-step, and the cost of batch invariance (the frozen model's batched step against the
/// engine's <see cref="RecurrentLayer{T}.Forward"/> of one step at the same batch).
/// </summary>
/// <remarks>Usage: <c>serve [--streams 1,10,100,1000] [--seconds 5] [--warmup 2] [--batch-sizes 128,256,512,1024]
/// [--waits 0,50,100] [--workers 1,P] [--idle-spin-us 50] [--no-invariance] [--into-buffer] [--out file.md]</c> (P = processors;
/// <c>--workers</c> is <see cref="StreamBatcherOptions.Workers"/>, <c>--idle-spin-us</c> how long an idle batcher worker
/// spins before it blocks).</remarks>
internal static class ServeBenchmark
{
    private const int InputSize = 64, Hidden = 256;
    private const double FlopPerStep = 2.0 * 4 * Hidden * (InputSize + Hidden);
    private const int InputVariants = 64;

    public static int Run(string[] args)
    {
        int[] streamCounts = ParseList(Option(args, "--streams", "1,10,100,1000"));
        double seconds = double.Parse(Option(args, "--seconds", "5"), CultureInfo.InvariantCulture);
        double warmup = double.Parse(Option(args, "--warmup", seconds < 2 ? "0.5" : "2"), CultureInfo.InvariantCulture);
        int[] batchSizes = ParseList(Option(args, "--batch-sizes", "128,256,512,1024"));
        int[] waits = ParseList(Option(args, "--waits", "0,50,100"));
        int[] workerCounts = ParseList(Option(args, "--workers", $"1,{Environment.ProcessorCount}")).Distinct().ToArray();
        if (Option(args, "--idle-spin-us", "") is { Length: > 0 } spin)
        {
            StreamBatcher<float>.IdleSpinTicks = (long)(double.Parse(spin, CultureInfo.InvariantCulture) * 1e-6 * Stopwatch.Frequency);
        }

        bool invariance = !args.Contains("--no-invariance");
        IntoBuffer = args.Contains("--into-buffer");
        string output = Option(args, "--out", "");
        int processors = Environment.ProcessorCount;

        string loadBefore = LoadAverage();
        var started = DateTime.UtcNow;
        Console.WriteLine($"serve: LSTM I={InputSize} H={Hidden} float, streams {string.Join(',', streamCounts)}, {seconds} s per point after {warmup} s warm-up; load {loadBefore}");

        var fmaStart = FmaPeak();
        Console.WriteLine(Invariant($"FMA peak (start): {fmaStart.Gflops:F1} GFLOP/s on {processors} threads ({fmaStart.Width}-bit; one thread {fmaStart.OneThread:F1})"));

        var model = new SequenceModel<float>(InputSize, seed: 17).Add(Layer.Lstm(Hidden));
        var frozen = model.Freeze();
        var inputs = MakeInputs();
        byte[] onnx = OnnxExporter.ToBytes(model.GetRecurrentLayer(0)!, null, new OnnxExportOptions { InitialState = true, FinalState = true });
        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(onnx, sessionOptions);
        double ortDifference = CheckOrt(frozen, session, inputs);
        bool batcherBits = CheckBatcher(frozen, inputs);
        Console.WriteLine(Invariant($"check: ORT vs frozen max |diff| over 3 streams x 6 steps = {ortDifference:E2} (limit 1e-5); batcher vs frozen.Step bit-identical: {batcherBits}"));
        if (ortDifference > 1e-5 || !batcherBits)
        {
            Console.Error.WriteLine("The paths disagree: not timing them.");
            return 3;
        }

        var results = new List<Result>();
        var sweep = new List<Result>();
        foreach (int n in streamCounts)
        {
            // (a) the batcher over the grid; settings that cannot differ at this N (MaxBatchSize >= N) are run once.
            Result? best = null, bestSingle = null;
            var seen = new HashSet<(int, int, int)>();
            foreach (int workerCount in workerCounts)
            {
                foreach (int maxBatch in batchSizes)
                {
                    foreach (int wait in waits)
                    {
                        if (!seen.Add((workerCount, Math.Min(maxBatch, n), wait)))
                        {
                            continue;
                        }

                        var r = MeasureBatcher(frozen, inputs, n, maxBatch, wait, workerCount, warmup, seconds);
                        Console.WriteLine(r.Line());
                        sweep.Add(r);
                        if (best is null || r.Throughput > best.Throughput)
                        {
                            best = r;
                        }

                        if (workerCount == 1 && (bestSingle is null || r.Throughput > bestSingle.Throughput))
                        {
                            bestSingle = r;
                        }
                    }
                }
            }

            results.Add(best! with { Path = "batcher (best)" });
            if (bestSingle is not null && bestSingle != best)
            {
                results.Add(bestSingle with { Path = "batcher, 1 worker (best)" });
            }

            var unbatched = MeasureThreaded(n, warmup, seconds, "frozen.Step (batch 1)", inputs, () => new FrozenClient(frozen));
            Console.WriteLine(unbatched.Line());
            results.Add(unbatched);
            var ort = MeasureThreaded(n, warmup, seconds, "ORT Run (batch 1)", inputs, () => new OrtClient(session));
            Console.WriteLine(ort.Line());
            results.Add(ort);
        }

        var fmaEnd = FmaPeak();
        Console.WriteLine(Invariant($"FMA peak (end): {fmaEnd.Gflops:F1} GFLOP/s"));
        double peak = Math.Max(fmaStart.Gflops, fmaEnd.Gflops) * 1e9;
        double limit = peak / FlopPerStep;

        var invarianceRows = invariance ? MeasureInvariance(model, frozen) : [];
        string loadAfter = LoadAverage();

        var md = new StringBuilder();
        md.AppendLine("### Serving N streams: batcher, unbatched frozen steps, ONNX Runtime");
        md.AppendLine();
        md.AppendLine($"- Command: `dotnet run -c Release --project benchmarks/RecurrentNets.Benchmarks -- serve {string.Join(' ', args)}`".Replace(" -- serve `", " -- serve`", StringComparison.Ordinal));
        md.AppendLine(Invariant($"- Date: {started:yyyy-MM-dd HH:mm} UTC; CPU: {CpuModel()}; {processors} hardware threads; vector path: {(Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "Vector128")} (Vector512.IsHardwareAccelerated = {Vector512.IsHardwareAccelerated}); kernel threads per call (MaxDegreeOfParallelism null: all processors) = {KernelScope.MaxThreads}; .NET {Environment.Version}; ONNX Runtime 1.31.1"));
        md.AppendLine(Invariant($"- Model: `new SequenceModel<float>(64, seed: 17).Add(Layer.Lstm(256))`, output h (no head); {FlopPerStep / 1e3:F0} kFLOP (2·4H·(I + H)) per stream-step."));
        md.AppendLine(Invariant($"- FMA peak, all {processors} threads at once (register-only FMA loop): {fmaStart.Gflops:F1} GFLOP/s at the start, {fmaEnd.Gflops:F1} at the end ({fmaStart.Width}-bit; one thread alone {fmaStart.OneThread:F1}); FMA-bound limit = {Math.Max(fmaStart.Gflops, fmaEnd.Gflops):F1} GFLOP/s / {FlopPerStep / 1e3:F0} kFLOP = **{limit:F0} stream-steps/s**."));
        md.AppendLine(Invariant($"- Each point: {warmup} s warm-up, then {seconds} s measured; closed loop (a stream sends its next step when it has the previous result); latency from submit to result of every step completed in the window. Load average (1/5/15 min) before: {loadBefore}; after: {loadAfter}. \"Other CPU\" is the machine's CPU time used by other processes during the window, in % of all cores."));
        md.AppendLine(Invariant($"- Check before timing: ONNX Runtime's h against the frozen model's over 3 streams × 6 steps, max |diff| = {ortDifference:E1}; the batcher's outputs bit-identical to frozen.Step: {batcherBits}."));
        md.AppendLine();
        md.AppendLine("| streams | path | setting | stream-steps/s | % of FMA limit | p50 µs | p99 µs | mean batch | other CPU % |");
        md.AppendLine("|---:|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            md.AppendLine(r.Row(limit));
        }

        md.AppendLine();
        int top = streamCounts.Max();
        var a = results.First(r => r.Streams == top && r.Path == "batcher (best)");
        var b = results.First(r => r.Streams == top && r.Path.StartsWith("frozen", StringComparison.Ordinal));
        var c = results.First(r => r.Streams == top && r.Path.StartsWith("ORT", StringComparison.Ordinal));
        md.AppendLine(Invariant($"Targets at {top} streams (issue 17):"));
        md.AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("|---|---:|---|");
        md.AppendLine(Invariant($"| batcher >= 3x ONNX Runtime | {a.Throughput / c.Throughput:F2}x | {Yes(a.Throughput >= 3 * c.Throughput)} |"));
        md.AppendLine(Invariant($"| batcher >= 3x unbatched frozen.Step | {a.Throughput / b.Throughput:F2}x | {Yes(a.Throughput >= 3 * b.Throughput)} |"));
        md.AppendLine(Invariant($"| batcher >= 50 % of the FMA-bound limit | {100 * a.Throughput / limit:F1} % | {Yes(a.Throughput >= 0.5 * limit)} |"));
        md.AppendLine(Invariant($"| batcher p99 <= 10 ms | {a.P99 / 1000:F2} ms | {Yes(a.P99 <= 10_000)} |"));
        md.AppendLine();
        md.AppendLine(Invariant($"Best batcher setting at {top} streams (by throughput): {a.Setting}."));
        var bounded = sweep.Where(r => r.Streams == top && r.P99 <= 10_000).OrderByDescending(r => r.Throughput).FirstOrDefault();
        md.AppendLine(bounded is null
            ? Invariant($"No setting kept p99 within 10 ms at {top} streams.")
            : Invariant($"Fastest setting with p99 <= 10 ms: {bounded.Setting}, {bounded.Throughput:F0} stream-steps/s ({100 * bounded.Throughput / limit:F1} % of the limit, {bounded.Throughput / c.Throughput:F2}x ONNX Runtime, {bounded.Throughput / b.Throughput:F2}x unbatched), p99 {bounded.P99 / 1000:F2} ms."));
        md.AppendLine();
        md.AppendLine("Batcher settings tried (MaxBatchSize, MaxWait, Workers); a MaxBatchSize at or above N is run once:");
        md.AppendLine();
        md.AppendLine("Worker time in % of workers × window: idle (blocked, nothing ready) / fill (waiting up to MaxWait for more) / take (the lock, taking the batch) / gather (inputs and states in) / step (the batched step) / scatter (states out) / requeue / complete (completing the tasks); the batched step's mean wall time; this process's CPU in % of the machine; gen0 GCs in the window (their pauses); thread-pool work items per stream-step.");
        md.AppendLine();
        md.AppendLine("| streams | setting | stream-steps/s | % of FMA limit | p50 µs | p99 µs | mean batch | other CPU % | worker time % | step µs/batch | process CPU % | gen0 GCs | pool items/step |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
        foreach (var r in sweep)
        {
            md.AppendLine(Invariant($"| {r.Streams} | {r.Setting} | {r.Throughput:F0} | {100 * r.Throughput / limit:F1} | {r.P50:F0} | {r.P99:F0} | {r.MeanBatch:F1} | {r.OtherCpu:F0} | {r.Diagnostics} |"));
        }

        if (invarianceRows.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Cost of batch invariance: one batched step of B rows, median µs: the frozen model's step (every product on the packed weights, the same kernels for any B) against the engine's `RecurrentLayer<float>.Forward` of one step (weights frozen, i.e. packed once; and not frozen, the engine's default), same weights, the same thread limit (KernelScope):");
            md.AppendLine();
            md.AppendLine("| threads | B | frozen model step µs | engine Forward, weights frozen µs | frozen / engine | engine Forward, weights not frozen (default) µs | frozen GFLOP/s |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (threads, rows, ours, engine, packing) in invarianceRows)
            {
                md.AppendLine(Invariant($"| {threads} | {rows} | {ours:F1} | {engine:F1} | {ours / engine:F2} | {packing:F1} | {rows * FlopPerStep / ours / 1e3:F1} |"));
            }
        }

        string text = md.ToString();
        Console.WriteLine();
        Console.WriteLine(text);
        if (!string.IsNullOrEmpty(output))
        {
            File.WriteAllText(output, text);
        }

        return 0;
    }

    private static string Yes(bool met) => met ? "yes" : "**no**";

    // ---------------------------------------------------------------------------------------------------------------
    // (a) the batcher

    private static Result MeasureBatcher(FrozenModel<float> frozen, float[][] inputs, int n, int maxBatch, int waitMicroseconds,
        int workerCount, double warmup, double seconds)
    {
        var batcher = new StreamBatcher<float>(frozen, new StreamBatcherOptions
        {
            MaxBatchSize = maxBatch,
            MaxWait = TimeSpan.FromMicroseconds(waitMicroseconds),
            Workers = workerCount,
        });
        var streams = Enumerable.Range(0, n).Select(_ => batcher.OpenStream()).ToArray();
        var logs = new LatencyLog[n];
        long start = Stopwatch.GetTimestamp();
        long windowStart = start + Ticks(warmup), windowEnd = windowStart + Ticks(seconds);
        var clients = new Task[n];
        for (int i = 0; i < n; i++)
        {
            logs[i] = new LatencyLog();
            clients[i] = BatcherClient(batcher, streams[i], i, inputs, logs[i], windowStart, windowEnd);
        }

        SleepUntil(windowStart);
        var load = PeerComparison.CpuLoad.Start();
        long batches0 = batcher.BatchesRun, steps0 = batcher.StepsRun;
        var times0 = batcher.Times;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        int gc0 = GC.CollectionCount(0);
        var pause0 = GC.GetTotalPauseDuration();
        long items0 = ThreadPool.CompletedWorkItemCount;
        long bytes0 = GC.GetTotalAllocatedBytes();
        SleepUntil(windowEnd);
        long bytes = GC.GetTotalAllocatedBytes() - bytes0;
        long batches1 = batcher.BatchesRun, steps1 = batcher.StepsRun;
        var times = batcher.Times - times0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        int gcs = GC.CollectionCount(0) - gc0;
        var pause = GC.GetTotalPauseDuration() - pause0;
        long items = ThreadPool.CompletedWorkItemCount - items0;
        double other = load.OtherPercent();
        double window = Ticks(seconds) * (double)workerCount / 100;
        string diagnostics = Invariant($"{times.Idle / window:F0}/{times.Fill / window:F0}/{times.Take / window:F0}/{times.Gather / window:F0}/{times.Step / window:F0}/{times.Scatter / window:F0}/{times.Requeue / window:F0}/{times.Complete / window:F0} | {times.Step * 1e6 / Stopwatch.Frequency / Math.Max(1, batches1 - batches0):F0} | {100 * cpu.TotalSeconds / seconds / Environment.ProcessorCount:F0} | {gcs} ({pause.TotalMilliseconds:F0} ms) | {(double)items / Math.Max(1, steps1 - steps0):F2}");
        Task.WaitAll(clients);
        batcher.Dispose();
        Console.WriteLine(Invariant($"    allocated: {(double)bytes / Math.Max(1, steps1 - steps0):F0} B per stream-step"));
        return Result.From(n, "batcher", Invariant($"MaxBatchSize {maxBatch}, MaxWait {waitMicroseconds} µs, Workers {workerCount}"), logs, seconds, other,
            batches1 > batches0 ? (double)(steps1 - steps0) / (batches1 - batches0) : double.NaN) with { Diagnostics = diagnostics };
    }

    /// <summary>With <c>--into-buffer</c> the batcher's clients use the allocation-free overload (output into a buffer of theirs).</summary>
    private static bool IntoBuffer;

    private static async Task BatcherClient(StreamBatcher<float> batcher, BatchedStream<float> stream, int id, float[][] inputs,
        LatencyLog log, long windowStart, long windowEnd)
    {
        await Task.Yield();
        float[] buffer = new float[batcher.Model.OutputSize];
        for (int t = 0; ; t++)
        {
            long submitted = Stopwatch.GetTimestamp();
            float[] y = buffer;
            if (IntoBuffer)
                await batcher.StepAsync(stream, inputs[(id + t) % InputVariants], buffer);
            else
                y = await batcher.StepAsync(stream, inputs[(id + t) % InputVariants]);
            long done = Stopwatch.GetTimestamp();
            if (done >= windowEnd)
            {
                GC.KeepAlive(y);
                return;
            }

            if (done >= windowStart)
            {
                log.Add(done - submitted);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // (b) and (c): min(N, processors) threads, each cycling through its share of the streams at batch 1

    /// <summary>Steps the streams of one thread on one path.</summary>
    private interface IStepClient : IDisposable
    {
        void Open(int streams);

        void Step(int stream, float[] x, Span<float> y);
    }

    private static Result MeasureThreaded(int n, double warmup, double seconds, string path, float[][] inputs, Func<IStepClient> create)
    {
        int threads = Math.Min(n, Environment.ProcessorCount);
        var logs = new LatencyLog[threads];
        long start = Stopwatch.GetTimestamp();
        long windowStart = start + Ticks(warmup), windowEnd = windowStart + Ticks(seconds);
        var workers = new Thread[threads];
        for (int k = 0; k < threads; k++)
        {
            int thread = k;
            logs[k] = new LatencyLog();
            // Streams k, k + threads, k + 2·threads, ... on thread k.
            int mine = (n - k + threads - 1) / threads;
            workers[k] = new Thread(() =>
            {
                using var client = create();
                client.Open(mine);
                var submitted = new long[mine];
                var steps = new int[mine];
                var y = new float[Hidden];
                submitted.AsSpan().Fill(Stopwatch.GetTimestamp());
                while (true)
                {
                    for (int j = 0; j < mine; j++)
                    {
                        int id = thread + j * threads;
                        client.Step(j, inputs[(id + steps[j]++) % InputVariants], y);
                        long done = Stopwatch.GetTimestamp();
                        if (done >= windowEnd)
                        {
                            return;
                        }

                        if (done >= windowStart)
                        {
                            // Closed loop: the stream sent this step when it had its previous result.
                            logs[thread].Add(done - submitted[j]);
                        }

                        submitted[j] = done;
                    }
                }
            }) { IsBackground = true, Name = $"serve client {k}" };
            workers[k].Start();
        }

        SleepUntil(windowStart);
        var load = PeerComparison.CpuLoad.Start();
        SleepUntil(windowEnd);
        double other = load.OtherPercent();
        foreach (var worker in workers)
        {
            worker.Join();
        }

        return Result.From(n, path, Invariant($"{threads} thread{(threads > 1 ? "s" : "")}, {(n + threads - 1) / threads} stream{(n > threads ? "s" : "")} each"), logs, seconds, other, 1);
    }

    private sealed class FrozenClient(FrozenModel<float> frozen) : IStepClient
    {
        private ModelStream<float>[] streams = [];

        public void Open(int count) => streams = Enumerable.Range(0, count).Select(_ => frozen.CreateStream()).ToArray();

        public void Step(int stream, float[] x, Span<float> y) => frozen.Step(streams[stream], x, y);

        public void Dispose()
        {
        }
    }

    /// <summary>
    /// ONNX Runtime as a .NET service would run it per step: one shared session, each stream's x, h and C in arrays of its
    /// own (h and C twice, read one while writing the other) wrapped once as OrtValues, one <c>Run</c> per step with
    /// preallocated outputs (no allocation per call).
    /// </summary>
    private sealed class OrtClient(InferenceSession session) : IStepClient
    {
        private static readonly string[] InputNames = [OnnxExporter.InputName, OnnxExporter.InitialHiddenName, OnnxExporter.InitialCellName];
        private static readonly string[] OutputNames = [OnnxExporter.FinalHiddenName, OnnxExporter.FinalCellName];
        private readonly RunOptions runOptions = new();
        private OrtStream[] streams = [];

        public void Open(int count) => streams = Enumerable.Range(0, count).Select(_ => new OrtStream()).ToArray();

        public void Step(int stream, float[] x, Span<float> y)
        {
            var s = streams[stream];
            x.CopyTo(s.X, 0);
            int p = s.Parity;
            session.Run(runOptions, InputNames, s.Inputs[p], OutputNames, s.Outputs[p]);
            s.H[1 - p].CopyTo(y);
            s.Parity = 1 - p;
        }

        public void Dispose()
        {
            foreach (var s in streams)
            {
                s.Dispose();
            }

            runOptions.Dispose();
        }
    }

    private sealed class OrtStream : IDisposable
    {
        private readonly List<OrtValue> values = [];

        public OrtStream()
        {
            var x = Wrap(X, 1, 1, InputSize);
            var h = new[] { Wrap(H[0], 1, 1, Hidden), Wrap(H[1], 1, 1, Hidden) };
            var c = new[] { Wrap(C[0], 1, 1, Hidden), Wrap(C[1], 1, 1, Hidden) };
            Inputs = [[x, h[0], c[0]], [x, h[1], c[1]]];
            Outputs = [[h[1], c[1]], [h[0], c[0]]];
        }

        public float[] X { get; } = new float[InputSize];

        public float[][] H { get; } = [new float[Hidden], new float[Hidden]];

        public float[][] C { get; } = [new float[Hidden], new float[Hidden]];

        /// <summary>The inputs and outputs of a step from state p (read h[p], C[p]; write h[1 - p], C[1 - p]).</summary>
        public OrtValue[][] Inputs { get; }

        /// <inheritdoc cref="Inputs"/>
        public OrtValue[][] Outputs { get; }

        public int Parity { get; set; }

        public void Dispose()
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }

        private OrtValue Wrap(float[] data, params long[] shape)
        {
            var value = OrtValue.CreateTensorValueFromMemory(data, shape);
            values.Add(value);
            return value;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Checks before timing

    private static double CheckOrt(FrozenModel<float> frozen, InferenceSession session, float[][] inputs)
    {
        using var client = new OrtClient(session);
        client.Open(3);
        var ours = Enumerable.Range(0, 3).Select(_ => frozen.CreateStream()).ToArray();
        float[] expected = new float[Hidden], actual = new float[Hidden];
        double worst = 0;
        for (int t = 0; t < 6; t++)
        {
            for (int s = 0; s < 3; s++)
            {
                var x = inputs[(5 * s + t) % InputVariants];
                frozen.Step(ours[s], x, expected);
                client.Step(s, x, actual);
                for (int i = 0; i < Hidden; i++)
                {
                    worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
                }
            }
        }

        return worst;
    }

    private static bool CheckBatcher(FrozenModel<float> frozen, float[][] inputs)
    {
        using var batcher = new StreamBatcher<float>(frozen, new StreamBatcherOptions { MaxWait = TimeSpan.FromMilliseconds(1) });
        var streams = Enumerable.Range(0, 3).Select(_ => batcher.OpenStream()).ToArray();
        var ours = Enumerable.Range(0, 3).Select(_ => frozen.CreateStream()).ToArray();
        float[] expected = new float[Hidden];
        for (int t = 0; t < 6; t++)
        {
            var tasks = Enumerable.Range(0, 3).Select(s => batcher.StepAsync(streams[s], inputs[(5 * s + t) % InputVariants])).ToArray();
            if (!Task.WaitAll(tasks, TimeSpan.FromSeconds(10)))
            {
                Console.Error.WriteLine($"The batcher ran no step in 10 s (pending {batcher.PendingSteps}, batches {batcher.BatchesRun}).");
                return false;
            }

            for (int s = 0; s < 3; s++)
            {
                frozen.Step(ours[s], inputs[(5 * s + t) % InputVariants], expected);
                if (!tasks[s].Result.AsSpan().SequenceEqual(expected))
                {
                    return false;
                }
            }
        }

        return true;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The cost of batch invariance: the frozen model's batched step against the engine's Forward of one step

    private static List<(int Threads, int Rows, double Frozen, double Engine, double Packing)> MeasureInvariance(SequenceModel<float> model, FrozenModel<float> frozen)
    {
        var rows = new List<(int, int, double, double, double)>();
        var layer = model.GetRecurrentLayer(0)!;
        layer.Training = false;
        var random = new Random(5);
        foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
        {
            using (KernelScope.Enter(threads))
            {
                foreach (int b in new[] { 1, 16, 64, 256, 1000 })
                {
                    var x = new Tensor<float>(1, b, InputSize);
                    for (int i = 0; i < x.Length; i++)
                    {
                        x.Data[i] = (float)(random.NextDouble() - 0.5);
                    }

                    var y = new Tensor<float>(1, b, Hidden);
                    var state = layer.CreateState(b);

                    var work = frozen.RentWorkspace();
                    work.Ensure(1, b);
                    x.AsSpan().CopyTo(work.Input.AsSpan(0, b * InputSize));
                    var states = new float[b * frozen.StateSize];
                    var counts = Enumerable.Repeat(1, b).ToArray();
                    var output = new float[b * Hidden];
                    double ours = Median(() => frozen.StepRows(work, b, output, states, counts));
                    frozen.ReturnWorkspace(work);

                    layer.FreezeWeights();
                    double engine = Median(() => layer.Forward(x, y, state, state));
                    layer.UnfreezeWeights();
                    double packing = Median(() => layer.Forward(x, y, state, state));
                    rows.Add((threads, b, ours, engine, packing));
                    Console.WriteLine(Invariant($"invariance threads={threads} B={b}: frozen {ours:F1} µs, engine (frozen weights) {engine:F1} µs, ratio {ours / engine:F2}, engine (packing per call) {packing:F1} µs"));
                }
            }
        }

        return rows;
    }

    private static double Median(Action call)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.3)
        {
            call();
        }

        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 20 || total.Elapsed.TotalSeconds < 0.5)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }

    // ---------------------------------------------------------------------------------------------------------------
    // FMA peak: independent FMAs on registers, on every hardware thread at once

    private static (double Gflops, double OneThread, int Width) FmaPeak()
    {
        bool wide = Vector512.IsHardwareAccelerated;
        int lanes = wide ? Vector512<float>.Count : Vector256<float>.Count;
        const int Chains = 12;
        long iterations = 20_000_000;
        double FlopFor(long i) => 2.0 * Chains * lanes * i;
        Func<long, float> loop = wide ? Fma512 : Fma256;
        loop(1000);

        double one = 0, all = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            long s = Stopwatch.GetTimestamp();
            loop(iterations);
            one = Math.Max(one, FlopFor(iterations) / Stopwatch.GetElapsedTime(s).TotalSeconds / 1e9);

            int p = Environment.ProcessorCount;
            using var barrier = new Barrier(p + 1);
            var threads = Enumerable.Range(0, p).Select(_ => new Thread(() =>
            {
                barrier.SignalAndWait();
                loop(iterations);
            })).ToArray();
            foreach (var t in threads)
            {
                t.Start();
            }

            barrier.SignalAndWait();
            s = Stopwatch.GetTimestamp();
            foreach (var t in threads)
            {
                t.Join();
            }

            all = Math.Max(all, p * FlopFor(iterations) / Stopwatch.GetElapsedTime(s).TotalSeconds / 1e9);
        }

        return (all, one, wide ? 512 : 256);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma512(long iterations)
    {
        var m = Vector512.Create(0.9999f);
        var c = Vector512.Create(1e-4f);
        Vector512<float> a0 = Vector512.Create(0.10f), a1 = Vector512.Create(0.11f), a2 = Vector512.Create(0.12f), a3 = Vector512.Create(0.13f);
        Vector512<float> a4 = Vector512.Create(0.14f), a5 = Vector512.Create(0.15f), a6 = Vector512.Create(0.16f), a7 = Vector512.Create(0.17f);
        Vector512<float> a8 = Vector512.Create(0.18f), a9 = Vector512.Create(0.19f), a10 = Vector512.Create(0.20f), a11 = Vector512.Create(0.21f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c);
            a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c);
            a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c);
            a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c);
            a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma256(long iterations)
    {
        var m = Vector256.Create(0.9999f);
        var c = Vector256.Create(1e-4f);
        Vector256<float> a0 = Vector256.Create(0.10f), a1 = Vector256.Create(0.11f), a2 = Vector256.Create(0.12f), a3 = Vector256.Create(0.13f);
        Vector256<float> a4 = Vector256.Create(0.14f), a5 = Vector256.Create(0.15f), a6 = Vector256.Create(0.16f), a7 = Vector256.Create(0.17f);
        Vector256<float> a8 = Vector256.Create(0.18f), a9 = Vector256.Create(0.19f), a10 = Vector256.Create(0.20f), a11 = Vector256.Create(0.21f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c);
            a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c);
            a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c);
            a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c);
            a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Plumbing

    private static float[][] MakeInputs()
    {
        var random = new Random(3);
        return Enumerable.Range(0, InputVariants)
            .Select(_ => Enumerable.Range(0, InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray())
            .ToArray();
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    private static void SleepUntil(long timestamp)
    {
        while (true)
        {
            long left = timestamp - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }

            Thread.Sleep(TimeSpan.FromSeconds(Math.Max(0.001, (double)left / Stopwatch.Frequency)));
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static int[] ParseList(string text) => text.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    private static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Latencies in Stopwatch ticks, appended by one client.</summary>
    private sealed class LatencyLog
    {
        private long[] ticks = new long[1024];

        public int Count { get; private set; }

        public ReadOnlySpan<long> Values => ticks.AsSpan(0, Count);

        public void Add(long value)
        {
            if (Count == ticks.Length)
            {
                Array.Resize(ref ticks, 2 * ticks.Length);
            }

            ticks[Count++] = value;
        }
    }

    private sealed record Result(int Streams, string Path, string Setting, double Throughput, double P50, double P99, double MeanBatch, double OtherCpu)
    {
        public string Diagnostics { get; init; } = "";

        public static Result From(int streams, string path, string setting, LatencyLog[] logs, double seconds, double other, double meanBatch)
        {
            var all = new long[logs.Sum(l => l.Count)];
            int at = 0;
            foreach (var log in logs)
            {
                log.Values.CopyTo(all.AsSpan(at));
                at += log.Count;
            }

            Array.Sort(all);
            double Percentile(double q) => all.Length == 0 ? double.NaN : all[(int)Math.Round(q * (all.Length - 1))] * 1e6 / Stopwatch.Frequency;
            return new Result(streams, path, setting, all.Length / seconds, Percentile(0.5), Percentile(0.99), meanBatch, other);
        }

        public string Line() => Invariant($"N={Streams} {Path} [{Setting}]: {Throughput:F0} steps/s, p50 {P50:F0} µs, p99 {P99:F0} µs, mean batch {MeanBatch:F1}, other CPU {OtherCpu:F0} %{(Diagnostics.Length > 0 ? "\n    idle/fill/take/gather/step/scatter/requeue/complete % | step µs/batch | process CPU % | gen0 GCs | pool items/step: " + Diagnostics : "")}");

        public string Row(double limit) => Invariant($"| {Streams} | {Path} | {Setting} | {Throughput:F0} | {100 * Throughput / limit:F1} | {P50:F0} | {P99:F0} | {MeanBatch:F1} | {OtherCpu:F0} |");
    }
}
