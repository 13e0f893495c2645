import Foundation
import Testing
@testable import LinearAlgebra

@Suite("Backend diagnostics and the OpenBLAS core check")
struct DiagnosticsTests {
    @Test("the recommended core follows vendor and instruction sets; generic cores are recognised")
    func recommendation() {
        let avx512: Set<String> = ["avx", "avx2", "fma", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"]
        #expect(Backend.recommendedOpenBLASCore(vendor: "GenuineIntel", flags: avx512) == "SkylakeX")
        #expect(Backend.recommendedOpenBLASCore(vendor: "GenuineIntel", flags: avx512.union(["avx512_bf16"])) == "Cooperlake")
        #expect(Backend.recommendedOpenBLASCore(vendor: "GenuineIntel", flags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(Backend.recommendedOpenBLASCore(vendor: "GenuineIntel", flags: ["avx"]) == "Sandybridge")
        #expect(Backend.recommendedOpenBLASCore(vendor: "GenuineIntel", flags: ["sse4_2"]) == nil)
        #expect(Backend.recommendedOpenBLASCore(vendor: "AuthenticAMD", flags: avx512) == "Zen")
        #expect(Backend.recommendedOpenBLASCore(vendor: "AuthenticAMD", flags: ["sse4_2"]) == nil)
        for core in ["Prescott", "Core2", "Nehalem", "Katmai", "prescott"] { #expect(Backend.isGenericOpenBLASCore(core), "\(core)") }
        for core in ["Haswell", "SkylakeX", "Cooperlake", "Zen", "Sandybridge"] { #expect(!Backend.isGenericOpenBLASCore(core), "\(core)") }
    }

    @Test("diagnostics describe this process: CPU, kernels, OpenBLAS as loaded; the core check agrees with them")
    func current() throws {
        let d = Backend.diagnostics
        #expect(!d.cpuModel.isEmpty && d.processors >= 1 && d.threads >= 1)
        #expect(d.nativeKernels.contains("baseline") && d.nativeKernels.contains(d.nativeKernel))
        #expect(d.builtWithOpenBLAS == Backend.isOpenBLASAvailable && (d.openBLAS != nil) == Backend.isOpenBLASAvailable)
        if let o = d.openBLAS {
            #expect(o.configuration.contains(o.version) && !o.core.isEmpty && o.threads >= 1)
            #expect(o.coretypeEnvironment == ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
            switch Backend.openBLASCoreCheck {
            case .chosenByUser(let core): #expect(core == o.coretypeEnvironment)
            case .generic(let core, let recommended): #expect(o.isGenericCore && core == o.core && recommended == o.recommendedCore)
            case .fine: #expect(o.coretypeEnvironment == nil || o.coretypeEnvironment!.isEmpty)
            }
        } else {
            #expect(Backend.openBLASCoreCheck == .fine)
        }
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(d)) as! [String: Any]
        #expect(json["cpu_model"] as? String == d.cpuModel && json["native_kernel"] as? String == d.nativeKernel)
    }
}
