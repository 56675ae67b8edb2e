// The README's first program, built against the packed NuGet package (not the project): it must learn.
using RecurrentNets.Init;
using RecurrentNets.Layers;
using RecurrentNets.Losses;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Sequence;
using RecurrentNets.Tensors;

const int steps = 20, batch = 8, inputSize = 4, hidden = 32, classes = 4;
var random = new SeededRandom(42);
var parameters = new ParameterBlock<float>();
var rnn = new Rnn<float>(inputSize, hidden, numLayers: 1, random: random, parameters: parameters);
var head = new Linear<float>(hidden, classes, random: random, parameters: parameters, name: "head");
var optimizer = new Adam<float>(parameters, learningRate: 1e-2);

var x = new Tensor<float>(steps, batch, inputSize);
var y = new Tensor<float>(steps, batch, hidden);
var dy = new Tensor<float>(steps, batch, hidden);
var logits = new float[steps * batch * classes];
var dLogits = new float[logits.Length];
var targets = new int[steps * batch];

// The task: output the symbol seen two steps earlier (one-hot inputs).
for (int t = 0; t < steps; t++)
{
    for (int b = 0; b < batch; b++)
    {
        int symbol = random.NextInt(inputSize);
        x.Row(t, b)[symbol] = 1;
        if (t + 2 < steps)
        {
            targets[(t + 2) * batch + b] = symbol;
        }
    }
}

for (int b = 0; b < 2 * batch; b++)
{
    targets[b] = -1; // no target for the first two steps
}

double first = 0, loss = 0;
for (int iteration = 0; iteration < 300; iteration++)
{
    optimizer.ZeroGradients();
    rnn.Forward(x, y);
    head.Forward(y.Data, steps * batch, logits);
    loss = CrossEntropyLoss.Compute<float>(logits, targets, classes, dLogits);
    head.Backward(y.Data, dLogits, steps * batch, dy.Data);
    rnn.Backward(dy);
    GradientClipping.ClipGradientNorm(parameters, maxNorm: 5);
    optimizer.Step();
    if (iteration == 0)
    {
        first = loss;
    }
}

Console.WriteLine($"loss {first:F3} -> {loss:F3}");
byte[] onnx = RecurrentNets.Onnx.OnnxExporter.ToBytes(rnn, head);
Console.WriteLine($"ONNX export: {onnx.Length} bytes");
if (!(loss < 0.1 * first))
{
    Console.Error.WriteLine("The packaged library did not learn the task.");
    return 1;
}

return 0;
