//! What a member's prefix modes make of them: the modes themselves, in
//! a byte, and the standing (role and affiliation) they give.

use ferry_bridge::{Affiliation, OccupantChange, Role};

use crate::isupport::Support;

/// The prefix modes (`o`, `v`, …) a member holds: a bit for each of the
/// server's PREFIX modes, in its order. One byte where the letters took a
/// 24-byte string in every member of every channel of every user.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Modes(u8);

impl Modes {
    /// Gives or takes the mode `letter`; letters that are no prefix mode
    /// of the server (or past its eighth) change nothing.
    pub(super) fn set(&mut self, letter: char, on: bool, support: &Support) {
        let Some(bit) = support
            .prefix
            .iter()
            .take(8)
            .position(|(m, _)| *m == letter)
        else {
            return;
        };
        if on {
            self.0 |= 1 << bit;
        } else {
            self.0 &= !(1 << bit);
        }
    }

    /// Every mode held, highest first.
    pub(super) fn held(self, support: &Support) -> Vec<char> {
        (0..support.prefix.len().min(8))
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| support.prefix[bit].0)
            .collect()
    }

    /// The highest mode held.
    pub(super) fn highest(self, support: &Support) -> Option<char> {
        (0..support.prefix.len().min(8))
            .find(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| support.prefix[bit].0)
    }
}

/// SPEC §3's table: the highest prefix mode gives role and affiliation;
/// on a moderated channel, who holds none is a visitor (SPEC §10).
pub(super) fn standing(modes: Modes, support: &Support, moderated: bool) -> (Role, Affiliation) {
    match modes.highest(support) {
        Some('q') | Some('a') => (Role::Moderator, Affiliation::Owner),
        Some('o') => (Role::Moderator, Affiliation::Admin),
        Some('h') => (Role::Moderator, Affiliation::Member),
        Some('v') => (Role::Participant, Affiliation::Member),
        _ if moderated => (Role::Visitor, Affiliation::None),
        _ => (Role::Participant, Affiliation::None),
    }
}

pub(super) fn joined_change(modes: Modes, support: &Support, moderated: bool) -> OccupantChange {
    let (role, affiliation) = standing(modes, support, moderated);
    OccupantChange::Joined { role, affiliation }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_modes_give_the_highest_standing() {
        let mut support = Support::default();
        support.absorb(["PREFIX=(qaohv)~&@%+"]);
        let mut modes = Modes::default();
        assert_eq!(
            standing(modes, &support, false),
            (Role::Participant, Affiliation::None)
        );
        modes.set('v', true, &support);
        assert_eq!(
            standing(modes, &support, false),
            (Role::Participant, Affiliation::Member)
        );
        modes.set('o', true, &support);
        modes.set('x', true, &support);
        assert_eq!(
            standing(modes, &support, false),
            (Role::Moderator, Affiliation::Admin)
        );
        assert_eq!(modes.held(&support), vec!['o', 'v']);
        modes.set('o', false, &support);
        assert_eq!(modes.highest(&support), Some('v'));
        modes.set('q', true, &support);
        assert_eq!(
            standing(modes, &support, false),
            (Role::Moderator, Affiliation::Owner)
        );
    }

    #[test]
    fn on_a_moderated_channel_who_holds_no_mode_is_a_visitor() {
        let mut support = Support::default();
        support.absorb(["PREFIX=(ov)@+"]);
        let mut modes = Modes::default();
        assert_eq!(
            standing(modes, &support, true),
            (Role::Visitor, Affiliation::None)
        );
        modes.set('v', true, &support);
        assert_eq!(
            standing(modes, &support, true),
            (Role::Participant, Affiliation::Member)
        );
    }
}
