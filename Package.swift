// swift-tools-version: 6.1
import PackageDescription

// The trait `OpenBLAS` (on by default) links the CBLAS system library and
// enables the OpenBLAS backend. `swift build --disable-default-traits` builds
// the pure-Swift backend only, on a machine with no OpenBLAS installed.
let openBLAS = TargetDependencyCondition.when(traits: ["OpenBLAS"])

let package = Package(
    name: "Rankwise",
    products: [
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "WeightFiles", targets: ["WeightFiles"]),
        .library(name: "LowRank", targets: ["LowRank"]),
        .library(name: "Merging", targets: ["Merging"]),
        .library(name: "KernelRegression", targets: ["KernelRegression"]),
        .executable(name: "rankwise", targets: ["rankwise"]),
    ],
    traits: [
        .trait(name: "OpenBLAS", description: "Use OpenBLAS and LAPACKE for BLAS and LAPACK routines."),
        .default(enabledTraits: ["OpenBLAS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            path: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(
            name: "LinearAlgebra",
            dependencies: [.target(name: "CBLAS", condition: openBLAS)]
        ),
        .target(
            name: "WeightFiles",
            dependencies: ["LinearAlgebra"]
        ),
        .target(
            name: "LowRank",
            dependencies: ["LinearAlgebra"]
        ),
        .target(
            name: "Merging",
            dependencies: ["LinearAlgebra"]
        ),
        .target(
            name: "KernelRegression",
            dependencies: ["LinearAlgebra"]
        ),
        .executableTarget(
            name: "rankwise",
            dependencies: [
                "LinearAlgebra",
                "WeightFiles",
                "LowRank",
                "Merging",
                "KernelRegression",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "rankwise-bench",
            dependencies: ["LinearAlgebra", "LowRank", "KernelRegression"],
            path: "Benchmarks/rankwise-bench"
        ),
        .executableTarget(
            name: "safetensors-fuzz",
            dependencies: ["WeightFiles"],
            path: "Fuzz/safetensors-fuzz"
        ),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "WeightFilesTests", dependencies: ["WeightFiles"]),
        .testTarget(name: "LowRankTests", dependencies: ["LowRank"]),
        .testTarget(name: "MergingTests", dependencies: ["Merging"]),
        .testTarget(name: "CLITests", dependencies: ["rankwise", "WeightFiles", "LowRank"]),
        .testTarget(
            name: "KernelRegressionTests",
            dependencies: ["KernelRegression"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
