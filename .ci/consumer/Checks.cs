// What CI checks after the README's first program (which .ci/run copies into Program.cs, then calls this): its
// outputs are written for the reload check in a new process, and the ONNX file agrees with ONNX Runtime.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RecurrentNets.Data;
using RecurrentNets.Models;

namespace Consumer;

internal static class Checks
{
    public static void AfterFirstProgram(SequenceModel<float> loaded, SequenceDataset<float> test)
    {
        var accuracy = loaded.Evaluate(test).Metrics["accuracy"];
        if (accuracy < 0.9)
        {
            throw new InvalidOperationException($"The packaged library did not learn the task: held-out accuracy {accuracy:P1}.");
        }

        // The outputs, for the reload in a new process to compare bit for bit.
        float[] outputs = [.. loaded.Predict(test).SelectMany(row => row)];
        File.WriteAllBytes("predictions.bin", System.Runtime.InteropServices.MemoryMarshal.AsBytes(outputs.AsSpan()).ToArray());

        // ONNX Runtime on the exported file, one sequence at a time (T varies), against the C# outputs.
        using var session = new InferenceSession("waves.onnx");
        double worst = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var batch = test.Batch([i]);
            var input = new DenseTensor<float>(batch.Features!.Data, [batch.Steps, 1, 1]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
            var onnx = results.First().AsEnumerable<float>().ToArray();
            for (int k = 0; k < onnx.Length; k++)
            {
                worst = Math.Max(worst, Math.Abs(onnx[k] - outputs[i * onnx.Length + k]));
            }
        }

        Console.WriteLine($"ONNX Runtime vs C#: max |difference| {worst:E2} over {test.Count} sequences");
        if (!(worst <= 1e-5))
        {
            throw new InvalidOperationException($"The ONNX export differs from the C# outputs by {worst:E2}.");
        }
    }
}
