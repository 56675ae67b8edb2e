using System.Collections;
using System.Numerics;
using RecurrentNets.Models;

namespace RecurrentNets.Data;

/// <summary>
/// One epoch of batches of a <see cref="SequenceDataset{T}"/>, as returned by
/// <see cref="SequenceDataset{T}.Batches"/>. foreach over it uses the struct <see cref="Enumerator"/> and allocates
/// nothing once every batch shape has been seen; through <see cref="IEnumerable{T}"/> it boxes one enumerator.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
public readonly struct SequenceBatches<T> : IEnumerable<SequenceBatch<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SequenceDataset<T> dataset;
    private readonly int batchSize, epoch, paddingToken;
    private readonly ulong seed;
    private readonly bool shuffle, bucketByLength;

    internal SequenceBatches(SequenceDataset<T> dataset, int batchSize, bool shuffle, ulong seed, int epoch, bool bucketByLength, int paddingToken)
    {
        this.dataset = dataset;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.epoch = epoch;
        this.bucketByLength = bucketByLength;
        this.paddingToken = paddingToken;
    }

    /// <summary>The number of batches, ceil(N / B).</summary>
    public int Count => dataset.BatchCount(batchSize);

    /// <summary>Plans the epoch (order, buckets) and starts it; this ends any earlier enumeration of the dataset.</summary>
    public Enumerator GetEnumerator()
    {
        int version = dataset.Plan(batchSize, shuffle, seed, epoch, bucketByLength);
        return new Enumerator(dataset, version, Count, batchSize, paddingToken);
    }

    IEnumerator<SequenceBatch<T>> IEnumerable<SequenceBatch<T>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Walks the planned batches, filling one pooled <see cref="SequenceBatch{T}"/> per step.</summary>
    public struct Enumerator : IEnumerator<SequenceBatch<T>>
    {
        private readonly SequenceDataset<T> dataset;
        private readonly int version, count, batchSize, paddingToken;
        private int next;

        internal Enumerator(SequenceDataset<T> dataset, int version, int count, int batchSize, int paddingToken)
        {
            this.dataset = dataset;
            this.version = version;
            this.count = count;
            this.batchSize = batchSize;
            this.paddingToken = paddingToken;
            Current = null!;
        }

        /// <summary>The current batch: a reused buffer, valid until the next <see cref="MoveNext"/>.</summary>
        public SequenceBatch<T> Current { get; private set; }

        readonly object IEnumerator.Current => Current;

        /// <summary>Fills the next batch.</summary>
        /// <returns>False after the last batch.</returns>
        /// <exception cref="InvalidOperationException">Another enumeration of the dataset started since this one.</exception>
        public bool MoveNext()
        {
            if (!dataset.IsCurrent(version))
            {
                throw new InvalidOperationException("The dataset started another enumeration of Batches since this one; a dataset serves one enumeration at a time.");
            }

            if (next >= count)
            {
                return false;
            }

            Current = dataset.FillPlanned(next++, batchSize, paddingToken);
            return true;
        }

        /// <summary>Not supported: ask <see cref="SequenceDataset{T}.Batches"/> again.</summary>
        /// <exception cref="NotSupportedException">Always.</exception>
        public readonly void Reset() => throw new NotSupportedException("Enumerate SequenceDataset.Batches again to restart an epoch.");

        /// <summary>Nothing to release.</summary>
        public readonly void Dispose()
        {
        }
    }
}
