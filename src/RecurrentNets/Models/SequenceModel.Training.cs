using System.Numerics;
using RecurrentNets.Kernels;
using RecurrentNets.Optimizers;
using RecurrentNets.Parameters;
using RecurrentNets.Tensors;

namespace RecurrentNets.Models;

public sealed partial class SequenceModel<T>
{
    private IMetric<T>[] metrics = [];
    private Tensor<T>? probabilities;

    /// <summary>The loss set by <see cref="Compile(ILoss{T}, Optimizer{T}, IMetric{T}[])"/>, or null.</summary>
    public ILoss<T>? Loss { get; private set; }


    /// <summary>The optimiser set by <see cref="Compile(ILoss{T}, Optimizer{T}, IMetric{T}[])"/>, or null.</summary>
    public Optimizer<T>? Optimizer { get; private set; }

    /// <summary>The metrics set by <see cref="Compile(ILoss{T}, Optimizer{T}, IMetric{T}[])"/>.</summary>
    public IReadOnlyList<IMetric<T>> Metrics => metrics;

    /// <summary>Global gradient-norm clipping in <see cref="TrainStep"/> and <see cref="Fit"/>, or null (PyTorch
    /// <c>clip_grad_norm_</c>, Keras <c>clipnorm</c>).</summary>
    public double? ClipNorm { get; set; }

    /// <summary>
    /// Sets what training minimises and how (Keras <c>model.compile(optimizer, loss, metrics)</c>). Call it after the
    /// last <see cref="Add(LayerSpec)"/>: the optimiser must be built on <see cref="Parameters"/> once every layer is in.
    /// </summary>
    /// <param name="loss">E.g. <see cref="CrossEntropy{T}"/> or <see cref="MeanSquaredError{T}"/>.</param>
    /// <param name="optimizer">An optimiser on this model's <see cref="Parameters"/>, e.g. <c>new Adam&lt;float&gt;(model.Parameters, 1e-3)</c>.</param>
    /// <param name="metrics">Reported per epoch by <see cref="Fit"/> and by <see cref="Evaluate"/>.</param>
    /// <exception cref="ArgumentException">The optimiser works on another parameter block.</exception>
    /// <exception cref="InvalidOperationException">The model has no layer.</exception>
    public void Compile(ILoss<T> loss, Optimizer<T> optimizer, params IMetric<T>[] metrics)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(metrics);
        if (layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layer: Add layers before Compile.");
        }

        if (!ReferenceEquals(optimizer.Parameters, Parameters))
        {
            throw new ArgumentException("The optimiser works on another parameter block: build it on model.Parameters.", nameof(optimizer));
        }

        Loss = loss;
        Optimizer = optimizer;
        this.metrics = [.. metrics];
    }

    /// <summary>
    /// Sets the loss, an optimiser built on <see cref="Parameters"/> by <paramref name="optimizer"/>, and the metrics:
    /// <c>model.Compile(new CrossEntropy&lt;float&gt;(), p =&gt; new Adam&lt;float&gt;(p, 1e-3), new Accuracy&lt;float&gt;())</c>.
    /// </summary>
    /// <param name="loss">The loss.</param>
    /// <param name="optimizer">Builds the optimiser on the model's parameter block.</param>
    /// <param name="metrics">Reported per epoch.</param>
    /// <exception cref="InvalidOperationException">The model has no layer.</exception>
    public void Compile(ILoss<T> loss, Func<ParameterBlock<T>, Optimizer<T>> optimizer, params IMetric<T>[] metrics)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layer: Add layers before Compile.");
        }

        Compile(loss, optimizer(Parameters), metrics);
    }

    /// <summary>
    /// One training step on a batch: zero the gradients, forward in training mode, the loss, backward, clip
    /// (<see cref="ClipNorm"/>) and one optimiser step. Allocates nothing once the batch's shape has been seen.
    /// </summary>
    /// <returns>The batch's loss.</returns>
    /// <exception cref="InvalidOperationException">Not compiled.</exception>
    /// <exception cref="ArgumentException">The batch does not fit the model or the loss (see <see cref="Forward"/>).</exception>
    public double TrainStep(SequenceBatch<T> batch)
    {
        using var use = Use();
        var optimizer = Optimizer ?? throw new InvalidOperationException("Compile the model (loss and optimiser) before training.");
        optimizer.ZeroGradients();
        double loss = ComputeGradients(batch);
        if (ClipNorm is double clip)
        {
            GradientClipping.ClipGradientNorm(Parameters, clip);
        }

        optimizer.Step();
        return loss;
    }

    /// <summary>Forward in training mode, the loss and backward: adds the batch's gradients (without zeroing or stepping).</summary>
    /// <returns>The batch's loss.</returns>
    /// <exception cref="InvalidOperationException">Not compiled.</exception>
    public double ComputeGradients(SequenceBatch<T> batch)
    {
        using var use = Use();
        var loss = Loss ?? throw new InvalidOperationException("Compile the model (loss and optimiser) before training.");
        if (!training)
        {
            Training = true;
        }

        Parameters.Freeze();
        var output = Forward(batch);
        var dOutput = last!.DOutputs[^1];
        double value = loss.Compute(output, batch, dOutput);
        Backward(dOutput);
        return value;
    }

    /// <summary>The model's output on a batch in evaluation mode (dropout off): logits for a classifier, values for a
    /// regressor. PyTorch: <c>model.eval(); model(x)</c>.</summary>
    /// <returns>[T', B, O], a buffer the model owns (valid until the next call with a batch of this shape).</returns>
    public Tensor<T> Predict(SequenceBatch<T> batch)
    {
        using var use = Use();
        if (training)
        {
            Training = false;
        }

        return Forward(batch);
    }

    /// <summary>Softmax over the output features of <see cref="Predict(SequenceBatch{T})"/>: class probabilities.</summary>
    /// <returns>[T', B, O], a buffer the model owns (valid until the next call).</returns>
    public Tensor<T> PredictProbabilities(SequenceBatch<T> batch)
    {
        using var use = Use();
        var logits = Predict(batch);
        if (probabilities is null || !probabilities.HasShape(logits.Shape))
        {
            probabilities = new Tensor<T>(logits.Shape.ToArray());
        }

        int classes = logits.Size(2);
        for (int row = 0; row < logits.Length / classes; row++)
        {
            Softmax.Row<T>(logits.Data.AsSpan(row * classes, classes), probabilities.Data.AsSpan(row * classes, classes));
        }

        return probabilities;
    }

    /// <summary>The most probable class of every output row (argmax of the logits), [T'·B] time-major; rows past a
    /// sequence's end get -1.</summary>
    /// <param name="batch">The input.</param>
    /// <param name="classes">Receives the classes, [T'·B].</param>
    /// <exception cref="ArgumentException"><paramref name="classes"/> has another length.</exception>
    public void PredictClasses(SequenceBatch<T> batch, Span<int> classes)
    {
        using var use = Use();
        var logits = Predict(batch);
        int count = logits.Size(2), rows = logits.Size(0) * logits.Size(1);
        if (classes.Length != rows)
        {
            throw new ArgumentException($"classes has {classes.Length} elements but the output has {rows} rows ([{logits.Size(0)}, {logits.Size(1)}]).", nameof(classes));
        }

        bool perStep = logits.Size(0) > 1 || !ReducesTime;
        for (int row = 0; row < rows; row++)
        {
            int t = row / batch.BatchSize, b = row % batch.BatchSize;
            classes[row] = perStep && t >= batch.Lengths[b] ? -1 : System.Numerics.Tensors.TensorPrimitives.IndexOfMax<T>(logits.Data.AsSpan(row * count, count));
        }
    }

    /// <summary>
    /// A thread-safe, read-only snapshot of this model for serving: the weights copied and packed once, every call on a
    /// pooled workspace (see <see cref="FrozenModel{T}"/>). Later training of this model does not reach the snapshot.
    /// PyTorch: <c>torch.jit.freeze(model.eval())</c>; ONNX Runtime: an <c>InferenceSession</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has no layer.</exception>
    /// <exception cref="NotSupportedException">The model has a custom or time-delay layer, or a cell written outside this library.</exception>
    public FrozenModel<T> Freeze()
    {
        using var use = Use();
        return new FrozenModel<T>(this);
    }

    /// <summary>A stepper that feeds this model one step at a time with the state carried between calls (streaming
    /// inference); see <see cref="ModelStepper{T}"/>.</summary>
    /// <param name="batchSize">B, the streams stepped together.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    /// <exception cref="NotSupportedException">A layer needs the whole sequence (bidirectional, time-delay, custom).</exception>
    public ModelStepper<T> CreateStepper(int batchSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layer: Add one first.");
        }

        return new ModelStepper<T>(this, batchSize);
    }
}
