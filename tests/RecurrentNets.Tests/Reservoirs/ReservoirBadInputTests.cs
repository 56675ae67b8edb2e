using RecurrentNets.Data;
using RecurrentNets.Reservoirs;

namespace RecurrentNets.Tests.Reservoirs;

public class ReservoirBadInputTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    public void SpectralRadiusMustBePositive(double rho)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Reservoir<double>.Create(new ReservoirOptions { SpectralRadius = rho }));
        Assert.Equal("SpectralRadius", ex.ParamName);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public void LeakRateMustBeInUnitInterval(double leak)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Reservoir<float>.Create(new ReservoirOptions { LeakRate = leak }));
        Assert.Equal("LeakRate", ex.ParamName);
        Assert.Contains("(0, 1]", ex.Message);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new Reservoir<float>(
            new CsrMatrix<float>(1, 1, [0, 0], [], []), new float[1], null, 1, 0, leakRate: leak));
        Assert.Equal("leakRate", ex2.ParamName);
    }

    [Theory]
    [InlineData("Connectivity", 0.0)]
    [InlineData("Connectivity", 1.01)]
    [InlineData("InputConnectivity", 0.0)]
    [InlineData("FeedbackConnectivity", -1.0)]
    public void ConnectivityMustBeInUnitInterval(string name, double value)
    {
        var options = name switch
        {
            "Connectivity" => new ReservoirOptions { Connectivity = value },
            "InputConnectivity" => new ReservoirOptions { InputConnectivity = value },
            _ => new ReservoirOptions { FeedbackConnectivity = value },
        };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Reservoir<double>.Create(options));
        Assert.Equal(name, ex.ParamName);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new SparseRandomInitializer { Connectivity = 0 }.Create(3, 3, new Init.SeededRandom(1)));
        Assert.Equal("Connectivity", ex2.ParamName);
    }

    [Fact]
    public void WashoutLongerThanTheDataIsRejected()
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 20, Seed = 1 });
        var esn = new EchoStateNetwork<double>(reservoir, new RidgeReadout<double>(20, 1));
        var u = new double[50];
        foreach (int washout in new[] { 50, 80, -1 })
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => esn.Train(esn.CreateState(), u, u, washout));
            Assert.Equal("washout", ex.ParamName);
            Assert.Contains("50", ex.Message);
        }
    }

    [Fact]
    public void PredictingBeforeTrainingIsRejected()
    {
        var ridge = new RidgeReadout<double>(3, 1);
        var ex = Assert.Throws<InvalidOperationException>(() => ridge.Predict(new double[3], new double[1]));
        Assert.Contains("not been trained", ex.Message);
        var ex2 = Assert.Throws<InvalidOperationException>(() => ridge.Fit());
        Assert.Contains("no data", ex2.Message);
        var pinv = new PseudoInverseReadout<double>(3, 1);
        Assert.Contains("not been trained", Assert.Throws<InvalidOperationException>(() => pinv.Predict(new double[3], new double[1])).Message);
        Assert.Contains("no data", Assert.Throws<InvalidOperationException>(pinv.Fit).Message);
        pinv.Accumulate([1.0, 2.0, 3.0], [1.0]);
        pinv.Fit();
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => pinv.Predict(new double[3], new double[2])).ParamName);

        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 3, Connectivity = 1, Seed = 1 });
        var esn = new EchoStateNetwork<double>(reservoir, ridge);
        Assert.Throws<InvalidOperationException>(() => esn.Generate(esn.CreateState(), new double[5]));
        Assert.Throws<InvalidOperationException>(() => esn.Run(esn.CreateState(), new double[5], new double[5]));
    }

    [Fact]
    public void ShapeMismatchesNameTheArgumentAndBothSizes()
    {
        var reservoir = Reservoir<double>.Create(new ReservoirOptions { Units = 10, Inputs = 2, Seed = 1 });
        var ex = Assert.Throws<ArgumentException>(() => reservoir.Step(new double[10], new double[3], new double[10]));
        Assert.Equal("drive", ex.ParamName);
        Assert.Contains("3", ex.Message);
        Assert.Contains("2 inputs", ex.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => new EchoStateNetwork<double>(reservoir, new RidgeReadout<double>(11, 1)));
        Assert.Equal("readout", ex2.ParamName);
        Assert.Contains("11", ex2.Message);
        var ridge = new RidgeReadout<double>(4, 2);
        var ex3 = Assert.Throws<ArgumentException>(() => ridge.Accumulate(new double[4], new double[3]));
        Assert.Equal("targets", ex3.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RidgeReadout<double>(4, 1, ridge: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RlsReadout<double>(4, 1, forgetting: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LmsReadout<double>(4, 1, learningRate: 0));
        var pinv = new PseudoInverseReadout<double>(4, 2);
        var ex4 = Assert.Throws<ArgumentException>(() => pinv.Accumulate(new double[5], new double[2]));
        Assert.Equal("features", ex4.ParamName);
        Assert.Contains("5", ex4.Message);
        Assert.Contains("4", ex4.Message);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => pinv.Accumulate(new double[4], new double[1])).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => pinv.AccumulateRows(new double[7], new double[4], 2)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PseudoInverseReadout<double>(4, 1, relativeTolerance: -1e-9));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PseudoInverseReadout<double>(4, 1, relativeTolerance: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => pinv.RelativeTolerance = 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PseudoInverseReadout<double>(0, 1));
        var csr = Assert.Throws<ArgumentException>(() => new CsrMatrix<double>(2, 2, [0, 1, 2], [0, 5], [1, 1]));
        Assert.Equal("columnIndices", csr.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => NarmaSeries.Generate(-1, 1));
    }
}
