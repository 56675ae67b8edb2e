// The model the README's first program saved, loaded in a new process: its outputs must equal the first process's
// bit for bit. The held-out set is drawn again with the first program's code and seeds.
using RecurrentNets.Data;
using RecurrentNets.Init;
using RecurrentNets.Models;

string folder = args[0];
var random = new SeededRandom(1);
var waves = Enumerable.Range(0, 600).Select(i =>
{
    int label = i % 3, steps = 20 + random.NextInt(21);
    double phase = random.NextDouble() * 2 * Math.PI;
    var x = new float[steps, 1];
    for (int t = 0; t < steps; t++)
        x[t, 0] = (float)(Math.Sin(phase + 0.3 * (label + 1) * t) + 0.2 * random.NextNormal());
    return (x, label);
});
var (_, test) = SequenceDataset<float>.Create(waves).Split(0.8, seed: 2);
var model = SequenceModel<float>.Load(Path.Combine(folder, "waves.safetensors"));
float[] outputs = [.. model.Predict(test).SelectMany(row => row)];
byte[] expected = File.ReadAllBytes(Path.Combine(folder, "predictions.bin"));
if (!System.Runtime.InteropServices.MemoryMarshal.AsBytes(outputs.AsSpan()).SequenceEqual(expected))
{
    Console.Error.WriteLine("The reloaded model's predictions differ from the first process's.");
    return 1;
}

Console.WriteLine($"Reloaded in a new process: {outputs.Length} outputs equal bit for bit.");
return 0;
