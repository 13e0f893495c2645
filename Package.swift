// swift-tools-version: 6.2
import PackageDescription

// The trait `OpenBLAS` (on by default) links the CBLAS system library and
// enables the OpenBLAS backend. `swift build --disable-default-traits` builds
// the pure-Swift backend only, on a machine with no OpenBLAS installed.
let openBLAS = TargetDependencyCondition.when(traits: ["OpenBLAS"])

// The native kernels (packed GEMM, plane rotations) are one set of sources
// compiled up to three times: `GEMMKernels` for the baseline CPU and, on
// x86-64, `GEMMKernelsAVX2` and `GEMMKernelsAVX512` (symlinks to the same
// files) for Haswell-class CPUs (AVX2, FMA) and AVX-512 CPUs; LinearAlgebra
// picks one at run time. All are optimised in debug builds too, so debug test
// runs of the native backend do not crawl. (Unsafe flags in dependencies are
// accepted from tools-version 6.2.)
let kernelOptimisation = SwiftSetting.unsafeFlags(["-O"], .when(configuration: .debug))
#if arch(x86_64)
let avx2Kernels: [Target] = [
    .target(name: "GEMMKernelsAVX2",
            swiftSettings: [.define("HASWELL"), .unsafeFlags(["-target-cpu", "haswell"]), kernelOptimisation]),
    // AVX-512 F/CD/BW/DQ/VL (Skylake-SP and later Intel, Zen 4 and later AMD).
    .target(name: "GEMMKernelsAVX512",
            swiftSettings: [.define("AVX512"), .unsafeFlags(["-target-cpu", "skylake-avx512"]), kernelOptimisation]),
]
#else
let avx2Kernels: [Target] = []
#endif

let package = Package(
    name: "Rankwise",
    products: [
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "WeightFiles", targets: ["WeightFiles"]),
        .library(name: "Compression", targets: ["Compression"]),
        .library(name: "LowRank", targets: ["LowRank"]),
        .library(name: "Merging", targets: ["Merging"]),
        .library(name: "KernelRegression", targets: ["KernelRegression"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "ModelSurgery", targets: ["ModelSurgery"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .executable(name: "rankwise", targets: ["rankwise"]),
    ],
    traits: [
        .trait(name: "OpenBLAS", description: "Use OpenBLAS and LAPACKE for BLAS and LAPACK routines."),
        .default(enabledTraits: ["OpenBLAS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // `make docs`: DocC archives of the library products (swift package generate-documentation).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            path: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(name: "GEMMKernels", swiftSettings: [kernelOptimisation]),
        // copy_file_range and mallopt, which Swift's Glibc module does not declare.
        .target(name: "CSystem"),
        .target(
            name: "LinearAlgebra",
            dependencies: [.target(name: "CBLAS", condition: openBLAS), "GEMMKernels"]
                + avx2Kernels.map { .target(name: $0.name) },
            exclude: ["README.md"]
        ),
        .target(
            name: "WeightFiles",
            dependencies: ["LinearAlgebra", "CSystem"],
            exclude: ["README.md"]
        ),
        .target(
            name: "Compression",
            dependencies: ["LinearAlgebra"],
            exclude: ["README.md"]
        ),
        .target(
            name: "Models",
            dependencies: ["LinearAlgebra", "WeightFiles"],
            exclude: ["README.md"],
            // Optimised in debug builds too: the forward passes' token loops (norms, attention) would crawl, as the kernels'.
            swiftSettings: [kernelOptimisation]
        ),
        .target(
            name: "LowRank",
            dependencies: ["LinearAlgebra"],
            exclude: ["README.md"]
        ),
        .target(
            name: "Merging",
            dependencies: ["LinearAlgebra"],
            exclude: ["README.md"]
        ),
        .target(
            name: "KernelRegression",
            dependencies: ["LinearAlgebra"],
            exclude: ["README.md"]
        ),
        .target(
            name: "ModelSurgery",
            dependencies: ["LinearAlgebra", "WeightFiles", "Compression", "LowRank", "Merging", "KernelRegression", "Models", "Tokenizers",
                           .product(name: "Yams", package: "Yams")],
            exclude: ["README.md"]
        ),
        // tokenizer.json and GGUF tokenizers (Foundation only: no linear algebra). Optimised in
        // debug builds too: tokenizing a long text unoptimised is tens of times slower.
        .target(
            name: "Tokenizers",
            exclude: ["README.md"],
            swiftSettings: [kernelOptimisation]
        ),
        .executableTarget(
            name: "rankwise",
            dependencies: [
                "LinearAlgebra",
                "WeightFiles",
                "Compression",
                "LowRank",
                "Merging",
                "KernelRegression",
                "ModelSurgery",
                "CSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "rankwise-bench",
            dependencies: [
                "LinearAlgebra",
                "Compression",
                "LowRank",
                "KernelRegression",
                "ModelSurgery",
                "Models",
                "WeightFiles",
                "CSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/rankwise-bench"
        ),
        .executableTarget(
            name: "safetensors-fuzz",
            dependencies: ["WeightFiles"],
            path: "Fuzz/safetensors-fuzz"
        ),
        // Helpers shared by the test targets (scalar kinds, test backends, tolerances,
        // distances, seeded test matrices, temporary folders).
        .target(name: "TestSupport", dependencies: ["LinearAlgebra"], path: "Tests/TestSupport"),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
        .testTarget(name: "WeightFilesTests", dependencies: ["WeightFiles", "TestSupport"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "WeightFiles", "TestSupport"]),
        .testTarget(name: "LowRankTests", dependencies: ["LowRank", "Compression", "TestSupport"]),
        .testTarget(name: "ModelSurgeryTests", dependencies: ["ModelSurgery", "WeightFiles", "LowRank", "Compression", "TestSupport"]),
        .testTarget(name: "MergingTests", dependencies: ["Merging", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "WeightFiles", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizers", "TestSupport"]),
        .testTarget(name: "DocumentationExamplesTests",
                    dependencies: ["LinearAlgebra", "WeightFiles", "Compression", "LowRank", "Merging", "KernelRegression", "ModelSurgery",
                                   "Tokenizers", "Models", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["rankwise", "WeightFiles", "LowRank", "TestSupport"]),
        .testTarget(
            name: "KernelRegressionTests",
            dependencies: ["KernelRegression", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ] + avx2Kernels
)
