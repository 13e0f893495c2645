// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "App",
    dependencies: [
        // A clone of Rankwise, in a folder of any name. `name:` fixes the name the
        // products below refer to; without it SwiftPM names a path dependency
        // after its folder.
        .package(name: "rankwise", path: "../.."),
        // Or from GitHub (SwiftPM names it after the URL's last component, "rankwise"):
        // .package(url: "https://github.com/<owner>/rankwise", branch: "main"),
    ],
    targets: [
        .executableTarget(name: "App", dependencies: [
            .product(name: "LinearAlgebra", package: "rankwise"),
            .product(name: "Compression", package: "rankwise"),
            .product(name: "LowRank", package: "rankwise"),
        ]),
    ]
)
