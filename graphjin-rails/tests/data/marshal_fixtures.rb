require 'json'
S = Struct.new(:a)
class Foo; end
module M; end
class UM; def marshal_dump; [1]; end; def marshal_load(a); end; end
s = "shared"
ints = [0, 1, 122, 123, 255, 256, 65535, 65536, 2**24-1, 2**24, 2**30-1, 2**30, 2**31, 2**32, 2**62, 2**63-1,
        -1, -123, -124, -256, -257, -65536, -65537, -(2**30), -(2**30)-1, -(2**31), -(2**63)]
ok = {
  "nil" => nil, "true" => true, "false" => false,
  "floats" => [1.5, -0.0, 0.1, 1e100, -2.5e-300, Float::INFINITY, -Float::INFINITY, 3.0],
  "utf8" => "héllo", "ascii" => "abc".force_encoding("US-ASCII"), "binary" => "\xff\x00".b,
  "sjis" => "abc".encode("Shift_JIS"),
  "symbols" => [:a, :b, :a, :b, :"é"],
  "links" => [s, s, [s], {s => s}],
  "hash_default" => Hash.new(5).merge("k" => 1),
  "nested" => {"a" => [[1, [2, {"b" => [nil]}]]]},
  "session" => {"session_id" => "abc", "warden.user.user.key" => [[2**40], "$2a$10$salt"], "_csrf_token" => "x"},
  "empty" => [[], {}, ""],
}
ints.each { |i| ok["int_#{i}"] = i }
refused = {
  "object" => Foo.new, "struct" => S.new(1), "time" => Time.at(0), "class" => String, "module" => Kernel,
  "regexp" => /ab/, "user_string" => Class.new(String).tap { |c| Object.const_set(:MyStr, c) }.new("x"),
  "bignum_2_64" => 2**64, "neg_bignum" => -(2**64),
  "range" => (1..2), "extended" => "x".extend(M), "user_marshal" => UM.new,
}
cyc = []; cyc << cyc
refused["cyclic"] = cyc
out = {}
ok.each { |k, v| out[k] = {"ok" => true, "hex" => Marshal.dump(v).unpack1("H*"), "inspect" => v.inspect} }
refused.each { |k, v| out[k] = {"ok" => false, "hex" => Marshal.dump(v).unpack1("H*"), "inspect" => v.inspect} }
puts JSON.pretty_generate(out)
