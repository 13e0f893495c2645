import Foundation
import Testing
import TestSupport
import WeightFiles

/// calibrate → quantize → compensate → eval on the real all-MiniLM-L6-v2, as the README shows it.
@Suite("calibrate, quantize, compensate, eval on a real encoder", .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
struct ForwardCLITests {
    static let sentences = """
        The weather is lovely today.
        It's so sunny outside!
        He drove to the stadium.
        A man is eating food.
        A man is riding a white horse on an enclosed ground.
        A monkey is playing drums.
        Someone in a gorilla costume is playing a set of drums.
        The new movie is awesome and the actors are great.
        The cat sits outside on the mat, watching the birds.
        Matrices are stored row by row, like numpy's arrays.
        """

    @Test("the whole path: each step runs, the statistics and adapter are read back, quantization costs cosine and EoRA gives it back")
    func path() throws {
        let dir = scratch()
        let model = TestModels.miniLM!.path
        try Self.sentences.write(to: dir.appendingPathComponent("text.txt"), atomically: true, encoding: .utf8)
        let calibrate = try Run(["calibrate", "--model", model, "--text", "text.txt", "-o", "calib.safetensors", "--json"], in: dir)
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(calibrate.stdout.utf8)) as! [String: Any]
        #expect(report["sequences"] as? Int == 10 && (report["groups"] as? [Any])?.count == 24)
        let quantize = try Run(["quantize", model, "--method", "gptq", "--calib", "calib.safetensors", "--bits", "4", "--group-size", "128",
                                "--format", "gptq", "-o", "gptq"], in: dir)
        #expect(quantize.status == 0, "\(quantize.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("gptq/sentence_bert_config.json").path))
        let compensate = try Run(["compensate", "--original", model, "--compressed", "gptq", "--calib", "calib.safetensors", "--rank", "16",
                                  "-o", "eora"], in: dir)
        #expect(compensate.status == 0, "\(compensate.stderr)")
        func cosine(_ extra: [String]) throws -> Double {
            let run = try Run(["eval", "--model", "gptq", "--reference", model, "--text", "text.txt", "--json"] + extra, in: dir)
            #expect(run.status == 0, "\(run.stderr)")
            return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any])["mean_cosine"] as! Double
        }
        let quantized = try cosine([]), compensated = try cosine(["--adapter", "eora"])
        #expect(quantized > 0.9 && quantized < 0.9999 && compensated > quantized, "\(quantized) → \(compensated)")
        // Sequential GPTQ from the text itself.
        let sequential = try Run(["quantize", model, "--method", "gptq", "--calib-text", "text.txt", "--bits", "4", "-o", "seq.safetensors"], in: dir)
        #expect(sequential.status == 0, "\(sequential.stderr)")
    }

    @Test("refusals: no model config, a text that is not UTF-8, an encoder without --reference, bad numbers")
    func refusals() throws {
        let dir = scratch()
        let model = TestModels.miniLM!.path
        try Data([0xFF, 0xFE, 0x00]).write(to: dir.appendingPathComponent("binary.txt"))
        try "hello\n".write(to: dir.appendingPathComponent("t.txt"), atomically: true, encoding: .utf8)
        let cases: [([String], Int32, String)] = [
            (["calibrate", "--model", fixture("tiny_model.safetensors"), "--text", "t.txt", "-o", "c.safetensors"], 1, "config.json"),
            (["calibrate", "--model", model, "--text", "binary.txt", "-o", "c.safetensors"], 2, "UTF-8"),
            (["eval", "--model", model, "--text", "t.txt"], 2, "--reference"),
            (["calibrate", "--model", model, "--text", "t.txt", "--seq-len", "1", "-o", "c.safetensors"], 2, "--seq-len"),
            (["quantize", model, "--method", "gptq", "--calib", "c", "--calib-text", "t.txt", "-o", "q.safetensors"], 2, "--calib-text"),
        ]
        for (arguments, status, text) in cases {
            let run = try Run(arguments, in: dir)
            #expect(run.status == status && run.stderr.contains(text), "\(arguments): \(run.status) \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("c.safetensors").path))
    }
}
