// Reference values of jetlab's high-level features from FastJet and FastJet contrib, for
// tests/test_physics_reference.py (which builds this file against the fastjet wheel's headers and
// libraries). Nothing here is jetlab code: every number comes from a FastJet / contrib class.
//
// stdin:  n_jets, then per jet: n, then n lines "px py pz E" (GeV)
// stdout: a header line of column names, then one line per jet; then per jet the sorted indices
//         of the particles kept by mMDT ("mmdt_kept i j k ...").
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "fastjet/ClusterSequence.hh"
#include "fastjet/PseudoJet.hh"
#include "fastjet/tools/Filter.hh"
#include "fastjet/tools/Pruner.hh"
#include "fastjet/contrib/EnergyCorrelator.hh"
#include "fastjet/contrib/Nsubjettiness.hh"
#include "fastjet/contrib/SoftDrop.hh"

using namespace fastjet;
using namespace fastjet::contrib;

static const double R0 = 0.8, ZCUT = 0.1;

// tau_N (beta = 1, 2; N = 1..4) with exclusive-kT axes and the normalized measure, then the 13 ECF ratios.
static void substructure(const PseudoJet& jet, const std::string& suffix, std::vector<std::string>* names,
                         std::vector<double>* out) {
  auto add = [&](const std::string& n, double v) { names->push_back(n + suffix); out->push_back(v); };
  for (double beta : {1.0, 2.0})
    for (int n = 1; n <= 4; ++n) {
      Nsubjettiness tau(n, KT_Axes(), NormalizedMeasure(beta, R0));
      add("tau" + std::to_string(n) + "_b" + std::to_string(int(beta)), tau(jet));
    }
  for (double beta : {0.0, 1.0, 2.0}) add("c1_b" + std::to_string(int(beta)), EnergyCorrelatorC1(beta)(jet));
  for (double beta : {1.0, 2.0}) {
    std::string b = std::to_string(int(beta));
    add("c2_b" + b, EnergyCorrelatorC2(beta)(jet));
    add("d2_b" + b, EnergyCorrelatorD2(beta)(jet));
    add("d2_a1_b" + b, EnergyCorrelatorGeneralizedD2(1.0, beta)(jet));
    add("m2_b" + b, EnergyCorrelatorM2(beta)(jet));
    add("n2_b" + b, EnergyCorrelatorN2(beta)(jet));
  }
}

int main() {
  ClusterSequence::set_fastjet_banner_stream(nullptr);
  int n_jets = 0;
  if (std::scanf("%d", &n_jets) != 1) return 1;
  std::vector<std::vector<double>> rows;
  std::vector<std::string> names;
  std::vector<std::vector<int>> kept;
  for (int j = 0; j < n_jets; ++j) {
    int n = 0;
    if (std::scanf("%d", &n) != 1) return 1;
    std::vector<PseudoJet> particles;
    for (int i = 0; i < n; ++i) {
      double px, py, pz, e;
      if (std::scanf("%lf %lf %lf %lf", &px, &py, &pz, &e) != 4) return 1;
      particles.emplace_back(px, py, pz, e);
      particles.back().set_user_index(i);
    }
    ClusterSequence cs(particles, JetDefinition(cambridge_algorithm, JetDefinition::max_allowable_R));
    PseudoJet jet = sorted_by_pt(cs.inclusive_jets())[0];  // all particles in one C/A jet
    std::vector<std::string> nm;
    std::vector<double> v;
    auto add = [&](const std::string& k, double x) { nm.push_back(k); v.push_back(x); };
    add("pt", jet.pt());
    add("eta", jet.eta());
    add("mass", jet.m());
    substructure(jet, "", &nm, &v);
    PseudoJet mmdt = SoftDrop(0.0, ZCUT, R0)(jet);
    add("mass_mmdt", mmdt.m());
    add("mass_sdb2", SoftDrop(2.0, ZCUT, R0)(jet).m());
    add("mass_sdm1", SoftDrop(-1.0, ZCUT, R0)(jet).m());
    add("mass_prun", Pruner(cambridge_algorithm, ZCUT, 0.5)(jet).m());
    add("mass_trim", Filter(JetDefinition(kt_algorithm, 0.2), SelectorPtFractionMin(0.03))(jet).m());
    substructure(mmdt, "_mmdt", &nm, &v);
    std::vector<int> k;
    for (const PseudoJet& c : mmdt.constituents()) k.push_back(c.user_index());
    std::sort(k.begin(), k.end());
    kept.push_back(k);
    names = nm;
    rows.push_back(v);
  }
  for (size_t i = 0; i < names.size(); ++i) std::printf("%s%s", i ? " " : "", names[i].c_str());
  std::printf("\n");
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) std::printf("%s%.17g", i ? " " : "", r[i]);
    std::printf("\n");
  }
  for (const auto& k : kept) {
    std::printf("mmdt_kept");
    for (int i : k) std::printf(" %d", i);
    std::printf("\n");
  }
  return 0;
}
