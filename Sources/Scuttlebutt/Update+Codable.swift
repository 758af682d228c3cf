/// A peer id is written as its 16 hex digits.
extension PeerID: Codable {
    /// Writes the 16 hex digits.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Reads 1 to 16 hex digits.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard text.count <= 16, let value = UInt64(text, radix: 16) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not a peer id")
        }
        self.init(value)
    }
}

/// A timestamp is written as its raw 64-bit value.
extension Timestamp: Codable {
    /// Writes the raw value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Reads the raw value.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(UInt64.self))
    }
}

/// An update id is written as `origin#seq`, e.g. `00000000000a11ce#3`.
extension UpdateID: Codable {
    /// Writes `origin#seq`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Reads `origin#seq`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        let parts = text.split(separator: "#")
        guard parts.count == 2, parts[0].count <= 16, let origin = UInt64(parts[0], radix: 16),
            let seq = UInt64(parts[1]), seq > 0
        else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not origin#seq")
        }
        self.init(origin: PeerID(origin), seq: seq)
    }
}

extension Update: Codable where Action: Codable {
    enum CodingKeys: String, CodingKey {
        case origin, seq, timestamp, action
    }

    /// Writes origin, seq, timestamp and action.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(origin, forKey: .origin)
        try container.encode(seq, forKey: .seq)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(action, forKey: .action)
    }

    /// Reads origin, seq, timestamp and action.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            origin: try container.decode(PeerID.self, forKey: .origin),
            seq: try container.decode(UInt64.self, forKey: .seq),
            timestamp: try container.decode(Timestamp.self, forKey: .timestamp),
            action: try container.decode(Action.self, forKey: .action))
    }
}
