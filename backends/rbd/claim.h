// Claims: RADOS objects made by an exclusive create, so that of two parties claiming one thing
// at once, whatever the hosts, exactly one wins and the other learns who holds it.
//  - An image's owner: "berth.owner.<image>" in the image's pool holds the volume that owns it
//    ("<registry pool>/<volume>"). Two volumes can never own one image, whatever their names.
//  - A host id's installation: "berth.host.<host id>" in the registry pool holds the instance
//    id (engine/instance_id.h) of the berth that uses that host id, so two installations that
//    claim one host id (a cloned /etc/machine-id) are told apart and the second is refused.
#pragma once

#include <optional>
#include <string>

#include "backends/rbd/cluster.h"

namespace berth::rbd {

std::string ImageClaim(const std::string& image);
std::string HostClaim(const std::string& host_id);

// The holder of the claim `object`, or nullopt when nobody claimed it.
std::optional<std::string> ClaimHolder(const IoCtx& io, const std::string& object);

// Claims `object` for `holder` unless it is claimed already; returns the holder that has it
// (`holder` itself when this call or an earlier one of the same holder made the claim).
std::string Claim(const IoCtx& io, const std::string& object, const std::string& holder);

// Removes `holder`'s claim; another holder's claim, or none, is left as it is.
void ReleaseClaim(const IoCtx& io, const std::string& object, const std::string& holder);

// Removes the claim whoever holds it (the operator's `berthctl host forget`).
void ForgetClaim(const IoCtx& io, const std::string& object);

}  // namespace berth::rbd
