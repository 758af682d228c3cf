import NIOCore
import Scuttlebutt

/// A NIO decoder: bytes in, gossip messages out (framing only — protocol
/// logic lives in `GossipSession`). A malformed frame fires a ``WireError``
/// down the pipeline; the connection handler answers with a `goodbye`.
public struct GossipFrameDecoder<Codec: WireActionCodec>: ByteToMessageDecoder {
    /// Decoded messages.
    public typealias InboundOut = GossipMessage<Codec.Action>

    private var decoder: WireDecoder<Codec>

    /// A decoder for one connection.
    public init(maxFrameSize: Int = WireFormat.defaultMaxFrameSize) {
        decoder = WireDecoder(maxFrameSize: maxFrameSize)
    }

    /// Emits one message per complete frame.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let payload = try decoder.nextFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(try decoder.decode(payload: payload)))
        return .continue
    }

    /// Refuses a connection that closes in the middle of a frame.
    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw WireError.truncated("frame at end of stream") }
        return .needMoreData
    }
}

/// A NIO encoder: gossip messages in, frames out.
public final class GossipFrameEncoder<Codec: WireActionCodec>: MessageToByteEncoder {
    /// Messages to encode.
    public typealias OutboundIn = GossipMessage<Codec.Action>

    private var encoder = WireEncoder<Codec>()

    /// An encoder for one connection.
    public init() {}

    /// Writes one frame.
    public func encode(data: GossipMessage<Codec.Action>, out: inout ByteBuffer) throws {
        encoder.encode(data, into: &out)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the protocol v1 frame decoder and encoder for `codec`'s actions.
    public func addGossipFrameCoders<Codec: WireActionCodec>(
        _ codec: Codec.Type, maxFrameSize: Int = WireFormat.defaultMaxFrameSize
    ) throws {
        try addHandler(ByteToMessageHandler(GossipFrameDecoder<Codec>(maxFrameSize: maxFrameSize)))
        try addHandler(MessageToByteHandler(GossipFrameEncoder<Codec>()))
    }
}
