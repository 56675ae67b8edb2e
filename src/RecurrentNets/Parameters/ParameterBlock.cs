using System.Numerics;
using RecurrentNets.Tensors;

namespace RecurrentNets.Parameters;

/// <summary>
/// One contiguous block of parameters and one of their gradients, with named views (offset, shape) into both.
/// Zeroing, clipping, norms and optimiser updates are one loop over one span.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>
/// Layers add their parameters while they are built; the block grows (copying) until the first optimiser or
/// training step, after which its size must not change (<see cref="Freeze"/>). Names follow PyTorch's
/// <c>state_dict</c> keys, so a layer's views are e.g. <c>weight_ih_l0 [G·H, I]</c>, <c>weight_hh_l0 [G·H, H]</c>,
/// <c>bias_ih_l0 [G·H]</c>, <c>bias_hh_l0 [G·H]</c>.
/// </remarks>
public sealed class ParameterBlock<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<ParameterView<T>> views = [];
    private readonly Dictionary<string, ParameterView<T>> byName = new(StringComparer.Ordinal);

    /// <summary>Creates an empty block.</summary>
    public ParameterBlock()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"RecurrentNets computes in float or double, not {typeof(T).Name}.");
        }
    }

    /// <summary>All parameter values, contiguous.</summary>
    public T[] Values { get; private set; } = [];

    /// <summary>All gradients, contiguous, in the same layout as <see cref="Values"/>.</summary>
    public T[] Gradients { get; private set; } = [];

    /// <summary>The number of scalar parameters.</summary>
    public int Length => Values.Length;

    /// <summary>Whether the layout is fixed.</summary>
    public bool IsFrozen { get; private set; }

    /// <summary>The named views, in the order they were added.</summary>
    public IReadOnlyList<ParameterView<T>> Views => views;

    /// <summary>Adds a zero-initialised parameter.</summary>
    /// <param name="name">A unique name (PyTorch's <c>state_dict</c> key).</param>
    /// <param name="shape">Its shape.</param>
    /// <exception cref="InvalidOperationException">The block is frozen.</exception>
    /// <exception cref="ArgumentException">The name is taken or the shape has a size below 1.</exception>
    public ParameterView<T> Add(string name, params int[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        name = NamePrefix + name;
        if (IsFrozen)
        {
            throw new InvalidOperationException($"Cannot add '{name}': the parameter block is frozen (an optimiser or a training step already uses it).");
        }

        if (byName.ContainsKey(name))
        {
            throw new ArgumentException($"A parameter named '{name}' already exists.", nameof(name));
        }

        long length = 1;
        foreach (int size in shape)
        {
            if (size <= 0)
            {
                throw new ArgumentException($"Parameter '{name}' has shape {Tensor<T>.FormatShape(shape)}; every size must be positive.", nameof(shape));
            }

            length *= size;
        }

        if (Values.Length + length > Array.MaxLength)
        {
            throw new ArgumentException($"Parameter '{name}' with shape {Tensor<T>.FormatShape(shape)} does not fit in one block.", nameof(shape));
        }

        int offset = Values.Length;
        var values = Values;
        var gradients = Gradients;
        Array.Resize(ref values, offset + (int)length);
        Array.Resize(ref gradients, offset + (int)length);
        Values = values;
        Gradients = gradients;

        var view = new ParameterView<T>(this, name, offset, (int[])shape.Clone(), (int)length);
        views.Add(view);
        byName.Add(name, view);
        return view;
    }

    /// <summary>
    /// The prefix that <see cref="Add"/> puts before every name, set by <see cref="BeginScope"/>: e.g. <c>rnn.</c>, so a
    /// layer's <c>weight_ih_l0</c> is stored as <c>rnn.weight_ih_l0</c>, as a PyTorch <c>nn.Module</c> attribute named
    /// <c>rnn</c> would name it in its <c>state_dict</c>. Empty outside a scope.
    /// </summary>
    public string NamePrefix { get; private set; } = "";

    /// <summary>
    /// Starts a naming scope: until the returned scope is disposed, <see cref="Add"/> prefixes every name with
    /// <paramref name="prefix"/> (after the prefix of an enclosing scope). Use it as <c>using (block.BeginScope("rnn."))</c>
    /// around the construction of a layer to name its parameters as a PyTorch submodule.
    /// </summary>
    /// <param name="prefix">The prefix, usually a module name and a dot.</param>
    /// <exception cref="ArgumentNullException"><paramref name="prefix"/> is null.</exception>
    public ParameterScope BeginScope(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        string outer = NamePrefix;
        NamePrefix = outer + prefix;
        return new ParameterScope(() => NamePrefix = outer);
    }

    /// <summary>The view named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No parameter has that name; the message lists the names there are.</exception>
    public ParameterView<T> this[string name] => byName.TryGetValue(name, out var view)
        ? view
        : throw new KeyNotFoundException($"No parameter is named '{name}'. The block has: {string.Join(", ", byName.Keys)}.");

    /// <summary>Whether a parameter named <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>Fixes the layout: no parameter can be added after this.</summary>
    public void Freeze() => IsFrozen = true;

    /// <summary>Sets every gradient to zero (PyTorch's <c>zero_grad</c>).</summary>
    public void ZeroGradients() => Array.Clear(Gradients);

    /// <summary>
    /// Loads named tensors (a PyTorch <c>state_dict</c>) into the block: every name must exist with the same shape, and
    /// every parameter of the block must be given. All checks run before anything is written, so a mismatch leaves
    /// the block as it was.
    /// </summary>
    /// <param name="tensors">Name to (shape, row-major values).</param>
    /// <exception cref="ArgumentException">An unknown or missing name, or a shape or length that differs; the message
    /// names the parameter and both shapes.</exception>
    public void Load(IReadOnlyDictionary<string, (int[] Shape, T[] Values)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var (name, (shape, values)) in tensors)
        {
            if (!byName.TryGetValue(name, out var view))
            {
                throw new ArgumentException($"'{name}' is not a parameter of this model. It has: {string.Join(", ", byName.Keys)}.", nameof(tensors));
            }

            if (!view.Shape.SequenceEqual(shape))
            {
                throw new ArgumentException($"'{name}' has shape {Tensor<T>.FormatShape(shape)} in the source but {Tensor<T>.FormatShape(view.Shape)} in this model.", nameof(tensors));
            }

            if (values.Length != view.Length)
            {
                throw new ArgumentException($"'{name}' has shape {Tensor<T>.FormatShape(shape)} but {values.Length} values.", nameof(tensors));
            }
        }

        foreach (var view in views)
        {
            if (!tensors.ContainsKey(view.Name))
            {
                throw new ArgumentException($"The source has no '{view.Name}' {Tensor<T>.FormatShape(view.Shape)}.", nameof(tensors));
            }
        }

        foreach (var (name, (_, values)) in tensors)
        {
            values.CopyTo(byName[name].Values);
        }
    }

    /// <summary>Copies all values and gradients from a block with the same layout.</summary>
    /// <exception cref="ArgumentException">The layouts differ.</exception>
    public void CopyFrom(ParameterBlock<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.views.Count != views.Count || other.Length != Length)
        {
            throw new ArgumentException($"The other block has {other.views.Count} parameters ({other.Length} values) but this one has {views.Count} ({Length} values).", nameof(other));
        }

        for (int i = 0; i < views.Count; i++)
        {
            if (other.views[i].Name != views[i].Name || !other.views[i].Shape.SequenceEqual(views[i].Shape))
            {
                throw new ArgumentException($"Parameter {i} is '{other.views[i]}' in the other block but '{views[i]}' here.", nameof(other));
            }
        }

        other.Values.CopyTo(Values, 0);
        other.Gradients.CopyTo(Gradients, 0);
    }
}

/// <summary>A naming scope of a <see cref="ParameterBlock{T}"/>; disposing it restores the enclosing prefix.</summary>
public sealed class ParameterScope : IDisposable
{
    private Action? restore;

    internal ParameterScope(Action restore) => this.restore = restore;

    /// <summary>Ends the scope (once; later calls do nothing).</summary>
    public void Dispose()
    {
        restore?.Invoke();
        restore = null;
    }
}
