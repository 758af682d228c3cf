import Foundation
import Testing

@testable import Workloads

/// The test vectors of `../shared/workloads/WHITEBOARD-SPEC.md`, section 10:
/// a port must generate exactly the streams the other engines were measured
/// with, or the comparison means nothing.
struct WorkloadVectorTests {
    @Test func sha256MatchesItsStandardVectors() {
        var empty = SHA256()
        empty.update([])
        #expect(empty.hexDigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update("abc".utf8)
        #expect(abc.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks, the padding spilling into the second.
        var long = SHA256()
        long.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(long.hexDigest() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func splitMix64MatchesTheSpec() {
        var one = SplitMix64(seed: 1)
        #expect(
            (0..<5).map { _ in one.next() } == [
                10_451_216_379_200_822_465, 13_757_245_211_066_428_519, 17_911_839_290_282_890_590,
                8_196_980_753_821_780_235, 8_195_237_237_126_968_761,
            ])
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xe220_a839_7b1d_cdaf && zero.next() == 0x6e78_9e6a_a1b9_65f4)
    }

    @Test func theFirstTwelveActionsReadAsTheSpecPrintsThem() {
        let stream = WorkloadStream(seed: 1, origin: "o0", count: 12)
        #expect(
            stream.actions.map(stream.canonicalLine).joined() == """
                A o0-0 #868e96 1374 2315
                E o0-0 1397 3496
                E o0-0 3520 650 1960 2619
                E o0-0 1288 1862 1180 4045 1708 2463
                E o0-0 3367 1930 132 2490 3181 28
                E o0-0 961 3352 828 3206 2311 355
                E o0-0 2142 3990 115 1402
                E o0-0 1936 2703 3247 2735
                E o0-0 3604 1919 4028 603 2914 4012
                E o0-0 955 1377 391 1397
                M o0-0 -252 640
                E o0-0 3897 3297 2519 1010 265 3761

                """)
    }

    /// W1 always; W3 (a million actions, about 25 s in a debug build) with
    /// `SCUTTLEBOARD_FULL_WORKLOADS=1`. W1's stream is W3's first 200,000
    /// actions, so W1 checks the same generator.
    @Test func w1AndW3HaveTheSpecsCountsAndDigests() {
        var vectors = [
            (
                200_000, 10_014, 179_961, 10_025, 359_993,
                "31a0d52b8496c7bd23a52018fcead5c5051e667802460f9c2ae844faa9dca35a",
                "bd435fcc33391cc22cc3a6ee0b9f8fff946e90d827760e54bfe015dc3126f18c"
            )
        ]
        if ProcessInfo.processInfo.environment["SCUTTLEBOARD_FULL_WORKLOADS"] == "1" {
            vectors.append(
                (
                    1_000_000, 50_274, 899_590, 50_136, 1_799_925,
                    "edec5ebb20e98f7101f48ae73afd9fce47a651fd440f2ee2249e42f76fc1540b",
                    "f1a310b1a03254baeed698332d7bef8ef843545e4f01df18d8331e2cf2e23001"
                ))
        }
        for (count, adds, extends, moves, points, streamDigest, boardDigest) in vectors {
            let stream = WorkloadStream(seed: 1, origin: "o0", count: count)
            let counts = stream.counts
            #expect(
                [counts.adds, counts.extends, counts.moves, counts.extendedPoints] as [Int] == [
                    adds, extends, moves, points,
                ],
                "\(count) actions")
            #expect(stream.digest == streamDigest, "\(count) actions")
            var board = WorkloadBoard()
            board.apply(stream)
            #expect(board.digest == boardDigest, "\(count) actions")
        }
    }

    @Test func w2OriginsTheirMergedBoardAndTheDeliveryOrderMatchTheSpec() {
        let streams = (1...4).map { WorkloadStream(seed: 1 + UInt64($0), origin: "o\($0)", count: 50_000) }
        #expect(
            streams.map(\.digest) == [
                "b3c1d2b3a4303ff1a803749e8ae7fd4035a1d4aa07f40b8e5f508fed92fbbf01",
                "d34664f0365d933782a1d36659b8a72af067ac7e944842fadb86ddd4d1344ed0",
                "3a32b325ebaa40bd0f4a89b28c40ed07de9a90980b58b88215fd668987ad9988",
                "ab54610cc0d9bd781af2fa0a113eadd08c54408b1c77abb0f4210867aac385d4",
            ])
        var merged = WorkloadBoard()
        for stream in streams { merged.apply(stream) }
        #expect(merged.digest == "6adfd8f2e88e762d1f35a162c623635097227f6925db674cc46f6a2caecfe1d8")
        let order = workloadDeliveryOrder(count: 200_000, window: 64, seed: 1_001)
        #expect(Array(order.prefix(16)) == [13, 0, 1, 25, 11, 6, 34, 37, 20, 17, 22, 44, 4, 7, 16, 47])
        #expect(
            workloadDigest(ofLines: order.lazy.map(String.init))
                == "1def2bc40def111e782df3a4e405810c159de25fbb36c4d1247b2213b18c89d6")
        #expect(Set(order).count == 200_000 && zip(order, 0...).allSatisfy { abs($0 - $1) < 64 })
    }
}
