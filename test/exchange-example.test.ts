// The worked examples of docs/key-exchange.md (sections 9 and 11.5), recomputed: if the
// wire format or the key derivation changes, this fails until the document
// is updated with it.
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../controlplane/exchange/address.js';
import {
  decodeAgreement, decodeChallenge, decodeKnock, decodeProposal, decodeSpiPayload,
  encodeAgreement, encodeChallenge, encodeKnock, encodeProposal, encodeSpiPayload,
} from '../controlplane/exchange/messages.js';
import { encodeKey, publicKeyPrologue } from '../controlplane/exchange/identity.js';
import { IK_AGREEMENT_LENGTH, IK_PROPOSAL_LENGTH } from '../controlplane/exchange/messages.js';
import { decodeIkPayload, detectNat, encodeIkPayload, natDetectionData } from '../controlplane/exchange/nat-detection.js';
import { HandshakeState } from '../controlplane/exchange/noise.js';
import { dh, keyPairFromPrivate } from '../controlplane/exchange/primitives.js';
import { PROTOCOL_VERSION, negotiatedPair, prologue } from '../controlplane/exchange/protocol.js';
import { RouteSpi, Spi } from '../controlplane/exchange/types.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Inputs (as in the document).
const psk = h('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const routeSpi = RouteSpi(1001);
const cookie = h('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');
const tag = h('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
const initiatorEphemeral = h('893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a');
const responderEphemeral = h('bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b');
const initiatorSpi = 0x11223344;
const responderSpi = 0x55667788;

// Outputs (as in the document).
const expected = {
  prologue: h(`01 01 000003e9 00000000000000000000ffffc0000201 00000000000000000000ffffc6336402
    c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf`),
  knock: h('000003e9 0b000000 01000000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf 00000000000000000000000000000000'),
  challenge: h('000003e9 0c000000 01010000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'),
  proposal: h(`000003e9 0d000000 01010000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
    ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944 969dfb7e 01144cf62a75c0f619cfd1dc3d7f5783`),
  agreement: h(`000003e9 0e000000
    95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843 4ebeee0a 7a0542320d0e98fb6553048c0ddca8f0`),
  handshakeHash: h('1c261c0a4acda4914cc29e37d42ea59af1151079d4fe87ff0361221facc1402b'),
  initiatorToResponder: h('12e49ea04cd0c78a3e5b6de08428ea75 a3d0f0cc'),
  responderToInitiator: h('b0e254e4706afd012b48108bd2d395b7 eee540f6'),
};

describe('docs/key-exchange.md example', () => {
  it('reproduces every message and both directions\' ESP key ‖ salt', () => {
    const nonce = Buffer.concat([cookie, tag]);
    const pro = prologue({
      version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv', routeSpi,
      initiatorAddress: parseAddress('192.0.2.1')!, responderAddress: parseAddress('198.51.100.2')!, nonce,
    });
    expect(pro.toString('hex')).toBe(expected.prologue.toString('hex'));
    expect(encodeKnock(routeSpi, { cookie }).toString('hex')).toBe(expected.knock.toString('hex'));
    expect(encodeChallenge(routeSpi, 'aes-gcm-16-icv', nonce).toString('hex')).toBe(expected.challenge.toString('hex'));

    const i = new HandshakeState({ pattern: 'NNpsk0', initiator: true, prologue: pro, psk, ephemeral: initiatorEphemeral });
    const r = new HandshakeState({ pattern: 'NNpsk0', initiator: false, prologue: pro, psk, ephemeral: responderEphemeral });
    const m1 = i.writeMessage(encodeSpiPayload(initiatorSpi));
    expect(encodeProposal(routeSpi, 'aes-gcm-16-icv', nonce, m1).toString('hex')).toBe(expected.proposal.toString('hex'));
    expect(decodeSpiPayload(r.readMessage(m1))).toBe(initiatorSpi);
    const m2 = r.writeMessage(encodeSpiPayload(responderSpi));
    expect(encodeAgreement(routeSpi, m2).toString('hex')).toBe(expected.agreement.toString('hex'));
    expect(decodeSpiPayload(i.readMessage(m2))).toBe(responderSpi);
    expect(i.handshakeHash().toString('hex')).toBe(expected.handshakeHash.toString('hex'));

    const atInitiator = negotiatedPair(i, 'initiator', 'aes-gcm-16-icv', Spi(initiatorSpi), Spi(responderSpi));
    const atResponder = negotiatedPair(r, 'responder', 'aes-gcm-16-icv', Spi(responderSpi), Spi(initiatorSpi));
    // Initiator → responder: SPI 0x55667788 (the responder's), and back: 0x11223344.
    expect(atInitiator.outbound).toEqual({ spi: responderSpi, keymat: expected.initiatorToResponder });
    expect(atResponder.inbound).toEqual({ spi: responderSpi, keymat: expected.initiatorToResponder });
    expect(atResponder.outbound).toEqual({ spi: initiatorSpi, keymat: expected.responderToInitiator });
    expect(atInitiator.inbound).toEqual({ spi: initiatorSpi, keymat: expected.responderToInitiator });
  });

  it('decodes its own messages', () => {
    expect(decodeKnock(expected.knock)).toEqual({ ok: true, msg: { cookie } });
    expect(decodeChallenge(expected.challenge)).toEqual({ ok: true, msg: { aeadId: 1, nonce: Buffer.concat([cookie, tag]) } });
    const p = decodeProposal(expected.proposal);
    expect(p.ok && p.msg.noise.length).toBe(52);
    const a = decodeAgreement(expected.agreement);
    expect(a.ok && a.msg.noise.length).toBe(52);
  });
});

// Section 11.5: the same exchange in public-key mode (Noise IKpsk2, no psk).
describe('docs/key-exchange.md public-key example (IKpsk2)', () => {
  const iStatic = keyPairFromPrivate(h('e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1'));
  const rStatic = keyPairFromPrivate(h('4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893'));
  const ik = {
    initiatorPublic: 'a8OCKiqn9OaYHWU4aSs83z5t+e6m7SaetB2TwidXt1o=',
    responderPublic: 'MeAwP9ZBjS+MDni5HyLoyu0Pvkhlbc9HZ+SDT3Abj2I=',
    prologue: h('01 01 000003e9 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'),
    proposal: h(`000003e9 0d000000 01010000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
      ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944
      f70d65fedfd7ad294f4c8f5c1324c7c90e54cd8af05652112a27b261e11ce99d 0db71c042901d2fdd54a272fd518027e
      9f67fdc9 4d534fea185e2949c5c4743490cf6ca1 36bc45054dba8cfc88d7b996042afae3
      4b38efe8596f28fd64137455d1d19b7c`),
    agreement: h(`000003e9 0e000000
      95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843
      1ef9e442 cc6d3709a7b1be8158f94b35b8be9294 c880220e974003abb997c50af86c7d00
      7f17d26bc855eb14834deb99dd19773b`),
    // NAT detection (section 11.7): the initiator sends from 192.0.2.1:4500 to
    // 198.51.100.2:4500 through a NAT, the responder sees it at 203.0.113.9:61001.
    proposalNat: h('06843ab927872aefc5805b20c5475994 658181c1a6ab26629f24bfa4caab73e1'),
    agreementNat: h('658181c1a6ab26629f24bfa4caab73e1 dbdf7af5d216427327773ae39a7f0ee0'),
    handshakeHash: h('25822c129719bfbae082c7587822af17f473c8caa6d084a62bfeb200313f4f96'),
    initiatorToResponder: h('3090447c06cf8917ab6c33b17c9f138c 1a69f510'),
    responderToInitiator: h('236229fb5381bb246906721a1fe31ce7 c88095f6'),
  };

  it('reproduces the public keys, the prologue, both messages and both directions\' ESP key ‖ salt', () => {
    expect(encodeKey(iStatic.publicKey)).toBe(ik.initiatorPublic);
    expect(encodeKey(rStatic.publicKey)).toBe(ik.responderPublic);
    const nonce = Buffer.concat([cookie, tag]);
    const pro = publicKeyPrologue({ version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv', routeSpi, nonce });
    expect(pro.toString('hex')).toBe(ik.prologue.toString('hex'));
    const zero = Buffer.alloc(32);
    const i = new HandshakeState({ pattern: 'IKpsk2', initiator: true, prologue: pro, psk: zero, s: iStatic, rs: rStatic.publicKey, ephemeral: initiatorEphemeral });
    // The responder as the key manager runs it: ss computed beforehand, the psk given after message 1.
    const r = new HandshakeState({
      pattern: 'IKpsk2', initiator: false, prologue: pro, s: rStatic, staticShared: dh(rStatic, iStatic.publicKey), ephemeral: responderEphemeral,
    });
    const initiatorAt = { address: '192.0.2.1', port: 4500 };
    const responderAt = { address: '198.51.100.2', port: 4500 };
    const natAt = { address: '203.0.113.9', port: 61001 };
    const proposalNat = natDetectionData(nonce, initiatorAt, responderAt);
    expect(proposalNat.toString('hex')).toBe(ik.proposalNat.toString('hex'));
    const m1 = i.writeMessage(encodeIkPayload(initiatorSpi, proposalNat));
    const proposal = encodeProposal(routeSpi, 'aes-gcm-16-icv', nonce, m1);
    expect(proposal.length).toBe(IK_PROPOSAL_LENGTH);
    expect(IK_PROPOSAL_LENGTH).toBe(176);
    expect(proposal.toString('hex')).toBe(ik.proposal.toString('hex'));
    const d = decodeProposal(proposal, IK_PROPOSAL_LENGTH);
    expect(d.ok && d.msg.noise.equals(m1)).toBe(true);
    const p1 = decodeIkPayload(r.readMessage(m1))!;
    expect(p1.spi).toBe(initiatorSpi);
    // The responder sees the NAT in front of the initiator (source), none in front of itself.
    expect(detectNat(nonce, p1.nat, natAt, responderAt)).toEqual({ remote: true, local: false });
    expect(r.remoteStatic()!.equals(iStatic.publicKey)).toBe(true);
    r.providePsk(zero);
    const agreementNat = natDetectionData(nonce, responderAt, natAt);
    expect(agreementNat.toString('hex')).toBe(ik.agreementNat.toString('hex'));
    const m2 = r.writeMessage(encodeIkPayload(responderSpi, agreementNat));
    const agreement = encodeAgreement(routeSpi, m2);
    expect(agreement.length).toBe(IK_AGREEMENT_LENGTH);
    expect(IK_AGREEMENT_LENGTH).toBe(92);
    expect(agreement.toString('hex')).toBe(ik.agreement.toString('hex'));
    const p2 = decodeIkPayload(i.readMessage(m2))!;
    expect(p2.spi).toBe(responderSpi);
    // ... and the initiator learns it is behind one: the responder saw it elsewhere than where it sent from.
    expect(detectNat(nonce, p2.nat, responderAt, initiatorAt)).toEqual({ remote: false, local: true });
    expect(i.handshakeHash().toString('hex')).toBe(ik.handshakeHash.toString('hex'));
    const atInitiator = negotiatedPair(i, 'initiator', 'aes-gcm-16-icv', Spi(initiatorSpi), Spi(responderSpi));
    const atResponder = negotiatedPair(r, 'responder', 'aes-gcm-16-icv', Spi(responderSpi), Spi(initiatorSpi));
    expect(atInitiator.outbound).toEqual({ spi: responderSpi, keymat: ik.initiatorToResponder });
    expect(atResponder.inbound).toEqual({ spi: responderSpi, keymat: ik.initiatorToResponder });
    expect(atResponder.outbound).toEqual({ spi: initiatorSpi, keymat: ik.responderToInitiator });
    expect(atInitiator.inbound).toEqual({ spi: initiatorSpi, keymat: ik.responderToInitiator });
    // A proposal of the other mode's length is malformed.
    expect(decodeProposal(proposal)).toEqual({ ok: false, reason: 'protocol' });
  });
});
