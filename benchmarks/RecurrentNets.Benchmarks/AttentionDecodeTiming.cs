using System.Diagnostics;
using System.Globalization;
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Models;

namespace RecurrentNets.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- attention-decode [--hidden 256] [--source 50] [--batch 32] [--vocabulary 1000] [--rounds 7]`:
/// the cost of one greedy decoding step of an LSTM <see cref="EncoderDecoder{T}"/> (float) without attention and with each
/// attention kind, at the same size and seed. A step's time is (Decode with 50 steps − Decode with 10 steps) / 40, so the
/// encoder (run once per Decode, as are the key projections) cancels; &lt;eos&gt; is made impossible so every decode runs to
/// its capacity. Rounds alternate the models in a rotating order; the table gives each model's median over rounds and
/// its ratio to the model without attention taken per round (median).
/// </summary>
internal static class AttentionDecodeTiming
{
    private const int ShortSteps = 10, LongSteps = 50;

    public static int Run(string[] args)
    {
        int hidden = 256, sourceSteps = 50, batch = 32, vocabulary = 1000, rounds = 7;
        for (int a = 0; a + 1 < args.Length; a += 2)
        {
            int value = int.Parse(args[a + 1], CultureInfo.InvariantCulture);
            switch (args[a])
            {
                case "--hidden": hidden = value; break;
                case "--source": sourceSteps = value; break;
                case "--batch": batch = value; break;
                case "--vocabulary": vocabulary = value; break;
                case "--rounds": rounds = value; break;
                default: Console.Error.WriteLine($"unknown option {args[a]}"); return 2;
            }
        }

        AttentionKind[] kinds = [AttentionKind.None, AttentionKind.Dot, AttentionKind.General, AttentionKind.Additive];
        var models = kinds.Select(kind =>
        {
            var model = new EncoderDecoder<float>(EncoderDecoderCell.Lstm, vocabulary, vocabulary, 0, 1, embeddingSize: hidden, hiddenSize: hidden,
                random: new SeededRandom(1), attention: kind);
            model.Output.Bias!.Values[1] = -1e4f;
            return model;
        }).ToArray();
        var random = new SeededRandom(2);
        var source = new TokenBatch(sourceSteps, batch);
        for (int b = 0; b < batch; b++)
        {
            var tokens = new int[sourceSteps - (b % 5)];
            for (int t = 0; t < tokens.Length; t++)
            {
                tokens[t] = 2 + random.NextInt(vocabulary - 2);
            }

            source.Set(b, tokens);
        }

        var shortResult = new TokenBatch(ShortSteps, batch);
        var longResult = new TokenBatch(LongSteps, batch);
        double StepMicroseconds(EncoderDecoder<float> model)
        {
            long t0 = Stopwatch.GetTimestamp();
            model.Decode(source, shortResult);
            long t1 = Stopwatch.GetTimestamp();
            model.Decode(source, longResult);
            long t2 = Stopwatch.GetTimestamp();
            return ((t2 - t1) - (t1 - t0)) * 1e6 / Stopwatch.Frequency / (LongSteps - ShortSteps);
        }

        // Warm up (buffers, JIT tiers).
        for (int i = 0; i < 3; i++)
        {
            foreach (var model in models)
            {
                StepMicroseconds(model);
            }
        }

        var times = new double[kinds.Length][];
        for (int k = 0; k < kinds.Length; k++)
        {
            times[k] = new double[rounds];
        }

        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < kinds.Length; i++)
            {
                int k = (i + r) % kinds.Length;
                double best = double.PositiveInfinity;
                for (int repeat = 0; repeat < 3; repeat++)
                {
                    best = Math.Min(best, StepMicroseconds(models[k]));
                }

                times[k][r] = best;
            }
        }

        Console.WriteLine($"Greedy decoding step, LSTM encoder-decoder (float), H = E = {hidden}, source steps {sourceSteps}, batch {batch}, V = {vocabulary}; {rounds} rounds");
        string path = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512"
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "Vector128";
        Console.WriteLine($"vector path {path}, {Environment.ProcessorCount} processors, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine();
        Console.WriteLine("| attention | µs per step (median) | ratio to none (median per round) | overhead per step |");
        Console.WriteLine("|---|---:|---:|---:|");
        double none = Medians.Of(times[0]);
        for (int k = 0; k < kinds.Length; k++)
        {
            double median = Medians.Of(times[k]);
            double ratio = Medians.Of(Enumerable.Range(0, rounds).Select(r => times[k][r] / times[0][r]));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {kinds[k].ToString().ToLowerInvariant()} | {median:F0} | {ratio:F2} | {median - none:+0;-0;0} µs |"));
        }

        return 0;
    }
}
